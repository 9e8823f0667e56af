fn main() {
    std::process::exit(pvesh_plus::cli::main());
}
