//! Function sizing: argon2id (the OWASP parameters userhub uses) against the CPU a Lambda
//! function gets for its memory size. Lambda gives CPU in proportion to memory, one vCPU at
//! 1,769 MB; here a child process (this binary, `--argon2-probe`) hashes under a CFS CPU
//! quota of the same share, set through a cgroup (v1 `cpu` or v2), as root.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::Table;
use crate::stats::{ms, Stats};
use crate::BoxError;

/// Memory sizes whose CPU share is measured (MB); 1,769 MB is one full vCPU.
pub const SIZES: [u32; 4] = [256, 512, 1024, 1769];
const FULL_VCPU_MB: f64 = 1769.0;
const PERIOD_US: u64 = 100_000;
/// A login should spend no more than this in argon2 at the chosen size.
pub const LOGIN_HASH_TARGET: Duration = Duration::from_millis(50);

pub const PROBE_FLAG: &str = "--argon2-probe";

/// In the child: waits for a line on stdin (the parent moves it into the cgroup first),
/// hashes `n` times, prints each hash's time in microseconds.
pub fn probe(n: usize) -> Result<(), BoxError> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for _ in 0..n {
        let t = Instant::now();
        rt.block_on(userhub::auth::passwords::hash(
            userhub_tests::PASSWORD.into(),
        ))?;
        println!("{}", t.elapsed().as_micros());
    }
    Ok(())
}

/// A cgroup with a CPU quota, removed on drop.
struct Quota {
    dir: PathBuf,
    procs_file: &'static str,
}

impl Quota {
    fn new(share: f64) -> Result<Self, BoxError> {
        let name = format!(
            "userhub-bench-{}-{}",
            std::process::id(),
            (share * 1000.0) as u32
        );
        let quota = ((share * PERIOD_US as f64) as u64).max(1000);
        let v1 = PathBuf::from("/sys/fs/cgroup/cpu");
        if v1.join("cpu.cfs_quota_us").exists() {
            let dir = v1.join(name);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
            std::fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())?;
            return Ok(Self {
                dir,
                procs_file: "tasks",
            });
        }
        let dir = PathBuf::from("/sys/fs/cgroup").join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("cpu.max"), format!("{quota} {PERIOD_US}"))?;
        Ok(Self {
            dir,
            procs_file: "cgroup.procs",
        })
    }

    fn add(&self, pid: u32) -> std::io::Result<()> {
        std::fs::write(self.dir.join(self.procs_file), pid.to_string())
    }
}

impl Drop for Quota {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// `n` hash times under a quota of `share` CPUs.
fn hash_times(share: f64, n: usize) -> Result<Vec<Duration>, BoxError> {
    let quota = Quota::new(share)?;
    let mut child = Command::new(std::env::current_exe()?)
        .args([PROBE_FLAG, &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let moved = quota.add(child.id());
    let mut stdin = child.stdin.take().expect("piped");
    if let Err(e) = moved {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("cannot set a CPU quota ({e})").into());
    }
    writeln!(stdin, "go")?;
    let out = BufReader::new(child.stdout.take().expect("piped"));
    let times = out
        .lines()
        .map(|l| Ok(Duration::from_micros(l?.trim().parse()?)))
        .collect::<Result<Vec<_>, BoxError>>()?;
    child.wait()?;
    Ok(times)
}

pub struct Sizing {
    pub table: Table,
    /// Hash times per memory size (MB).
    pub per_size: Vec<(u32, Stats)>,
}

pub fn measure(n: usize) -> Sizing {
    let mut per_size = vec![];
    let mut table = Table::new(
        "Function sizing: argon2id hash time against CPU share",
        format!(
            "{n} hashes (m=19456 KiB, t=2, p=1) per size in a child process under a CFS quota \
             of size/{FULL_VCPU_MB:.0} CPUs per {} ms period (Lambda's CPU share for that \
             memory size).",
            PERIOD_US / 1000
        ),
        &[
            "MemorySize",
            "vCPU share",
            "hash p50",
            "hash max",
            "logins/s per instance, sustained",
        ],
    );
    for mb in SIZES {
        let share = f64::from(mb) / FULL_VCPU_MB;
        match hash_times(share.min(1.0), n).map(|t| (Stats::of(&t), t)) {
            Ok((Some(s), times)) => {
                // Back to back, so the quota's throttling counts: a hash that fits in a
                // period's quota is fast, the one that exhausts it waits for the next.
                let total: Duration = times.iter().sum();
                table.row(vec![
                    format!("{mb} MB"),
                    format!("{share:.2}"),
                    ms(s.p50),
                    ms(s.max),
                    format!("{:.0}", times.len() as f64 / total.as_secs_f64()),
                ]);
                per_size.push((mb, s));
            }
            Ok((None, _)) => table.note(format!("{mb} MB: no samples")),
            Err(e) => {
                table.note(format!("not measured: {e}"));
                break;
            }
        }
    }
    table.note(format!(
        "template.yaml sizes `auth` (which hashes on every login and registration) so that one \
         hash stays under {} ms, `jobs` (one hash per plain-password import row) at a full vCPU, \
         and the functions that never hash at 256 MB.",
        LOGIN_HASH_TARGET.as_millis()
    ));
    Sizing { table, per_size }
}
