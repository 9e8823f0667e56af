//! `/cluster/backup`: the scheduled backup jobs (`jobs.cfg`, type `vzdump`) with the next run
//! computed from the simulated clock, as pve-manager's `PVE/API2/Backup.pm` returns them.

use chrono::{Datelike, Duration, NaiveTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::{ApiError, Perm, Reply, Route, route};
use crate::sim::state::BackupJob;

const AUDIT: Perm = Perm::Privs {
    path: "/",
    privs: &["Sys.Audit"],
    any: false,
};

pub fn routes() -> Vec<Route> {
    vec![
        route(
            "GET",
            "/cluster/backup",
            "index",
            "array",
            AUDIT,
            &[],
            |c| {
                let now = c.now();
                let rows = c
                    .state
                    .backup_jobs
                    .iter()
                    .map(|j| {
                        let mut o = job_json(j);
                        if let Some(t) = next_run(&j.schedule, now) {
                            o.insert("next-run".into(), json!(t));
                        }
                        Value::Object(o)
                    })
                    .collect();
                Ok(Reply::data(Value::Array(rows)))
            },
        )
        .desc("List vzdump backup schedule."),
        route(
            "GET",
            "/cluster/backup/{id}",
            "read_job",
            "object",
            AUDIT,
            &["id:string maxlen=50 pattern=\\S+"],
            |c| {
                let id = c.req("id")?.to_string();
                match c.state.backup_jobs.iter().find(|j| j.id == id) {
                    Some(j) => Ok(Reply::data(Value::Object(job_json(j)))),
                    None => Err(ApiError::param("id", format!("No such job '{id}'"))),
                }
            },
        )
        .desc("Read vzdump backup job definition."),
    ]
}

/// A job as stored, with `prune-backups` decoded into an object (PVE decodes property strings
/// of job options).
fn job_json(j: &BackupJob) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("id".into(), json!(j.id));
    o.insert("type".into(), json!("vzdump"));
    o.insert("schedule".into(), json!(j.schedule));
    o.insert("storage".into(), json!(j.storage));
    o.insert("enabled".into(), json!(u8::from(j.enabled)));
    if j.all {
        o.insert("all".into(), json!(1));
    }
    for (k, v) in [
        ("vmid", &j.vmid),
        ("exclude", &j.exclude),
        ("pool", &j.pool),
        ("node", &j.node),
        ("notes-template", &j.notes_template),
        ("comment", &j.comment),
    ] {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    }
    o.insert("mode".into(), json!(j.mode));
    o.insert("compress".into(), json!(j.compress));
    if !j.prune.is_empty() {
        let p: Map<String, Value> = j.prune.iter().map(|(k, n)| (k.clone(), json!(n))).collect();
        o.insert("prune-backups".into(), Value::Object(p));
    }
    o
}

/// The first time after `now` (UTC) that a calendar event fires. Understands the forms jobs
/// use: `HH:MM` (daily) and `DAYS HH:MM`, DAYS being `sat`, `mon,wed`, `mon..fri`; `None` for
/// anything else.
pub fn next_run(schedule: &str, now: i64) -> Option<i64> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut words: Vec<&str> = schedule.split_whitespace().collect();
    let time = NaiveTime::parse_from_str(words.pop()?, "%H:%M").ok()?;
    let mut days = [words.is_empty(); 7];
    if let Some(spec) = words.first() {
        if words.len() > 1 {
            return None;
        }
        for part in spec.split(',') {
            let idx = |d: &str| DAYS.iter().position(|x| *x == d);
            match part.split_once("..") {
                Some((a, b)) => {
                    let (a, b) = (idx(a)?, idx(b)?);
                    (a..=b).for_each(|i| days[i] = true);
                }
                None => days[idx(part)?] = true,
            }
        }
    }
    let start = Utc.timestamp_opt(now, 0).single()?.date_naive();
    (0..=7).find_map(|d| {
        let date = start + Duration::days(d);
        let at = date.and_time(time).and_utc().timestamp();
        (days[date.weekday().num_days_from_monday() as usize] && at > now).then_some(at)
    })
}

#[cfg(test)]
mod tests {
    use super::next_run;
    use crate::sim::clock::EPOCH;

    #[test]
    fn next_runs() {
        // EPOCH is Thursday 2026-01-01 00:00 UTC.
        assert_eq!(next_run("21:00", EPOCH), Some(EPOCH + 21 * 3600));
        assert_eq!(
            next_run("21:00", EPOCH + 21 * 3600),
            Some(EPOCH + 45 * 3600)
        );
        assert_eq!(next_run("sat 02:30", EPOCH), Some(EPOCH + 2 * 86400 + 9000));
        assert_eq!(
            next_run("mon..fri 00:00", EPOCH + 86400),
            Some(EPOCH + 4 * 86400)
        );
        assert_eq!(next_run("*/15", EPOCH), None);
    }
}
