//! Tables, printed to the terminal and written to docs/BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::Path;

/// One table of results, with what it measured and whether a budget was missed.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub title: String,
    /// How it was measured, in a sentence or two.
    pub method: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
    /// A budget in this table was missed.
    pub over: bool,
}

impl Table {
    pub fn new(title: impl Into<String>, method: impl Into<String>, headers: &[&str]) -> Self {
        Self {
            title: title.into(),
            method: method.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            ..Self::default()
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                if i < w.len() {
                    w[i] = w[i].max(c.chars().count());
                }
            }
        }
        w
    }

    /// The terminal form: aligned columns, the first left-aligned.
    pub fn text(&self) -> String {
        let w = self.widths();
        let line = |cells: &[String]| {
            let mut s = String::from(" ");
            for (i, c) in cells.iter().enumerate() {
                let width = w.get(i).copied().unwrap_or(0);
                if i == 0 {
                    let _ = write!(s, " {c:<width$}");
                } else {
                    let _ = write!(s, "  {c:>width$}");
                }
            }
            s
        };
        let mut out = format!("{}\n  {}\n", self.title, self.method);
        out.push_str(&line(&self.headers));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("## {}\n\n{}\n\n", self.title, self.method);
        let _ = writeln!(out, "| {} |", self.headers.join(" | "));
        let align: Vec<&str> = (0..self.headers.len())
            .map(|i| if i == 0 { "---" } else { "---:" })
            .collect();
        let _ = writeln!(out, "| {} |", align.join(" | "));
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out.push('\n');
        for n in &self.notes {
            let _ = writeln!(out, "- {n}");
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        out
    }
}

/// Where and when the numbers were taken.
pub struct Header {
    pub machine: String,
    pub date: String,
    pub commit: String,
    pub command: String,
    pub duration_secs: f64,
}

impl Header {
    pub fn collect(command: &str, duration_secs: f64) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let mem = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map_or_else(String::new, |kb| format!(", {} GiB RAM", kb >> 20));
        Self {
            machine: format!("{cpu}, {cores} CPUs{mem}, {}", std::env::consts::OS),
            date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            commit: command_output("git", &["rev-parse", "--short=12", "HEAD"]),
            command: command.to_owned(),
            duration_secs,
        }
    }
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".into(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        )
}

/// Writes the whole report (the charts are files beside it).
pub fn write_markdown(
    path: &Path,
    header: &Header,
    tables: &[Table],
    charts: &[(String, String)],
) -> std::io::Result<()> {
    let mut out = String::from("# Benchmarks\n\n");
    out.push_str(
        "Written by `make bench` (`tests/src/bin/bench`); do not edit by hand. Every ratio \
         compares two things measured in the same run on the same machine, interleaved where \
         possible, so that the machine's load affects both.\n\n",
    );
    let _ = writeln!(out, "- Machine: {}", header.machine);
    let _ = writeln!(out, "- Date: {}", header.date);
    let _ = writeln!(out, "- Commit: `{}`", header.commit);
    let _ = writeln!(out, "- Command: `{}`", header.command);
    let _ = writeln!(out, "- Run time: {:.0} s", header.duration_secs);
    let over: Vec<&str> = tables
        .iter()
        .filter(|t| t.over)
        .map(|t| t.title.as_str())
        .collect();
    let _ = writeln!(
        out,
        "- Budgets: {}\n",
        if over.is_empty() {
            "all met".to_owned()
        } else {
            format!("MISSED in: {}", over.join("; "))
        }
    );
    for (title, file) in charts {
        let _ = writeln!(out, "![{title}]({file})\n");
    }
    for t in tables {
        out.push_str(&t.markdown());
    }
    std::fs::write(path, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_renders_both_ways() {
        let mut t = Table::new("T", "how", &["name", "value"]);
        t.row(vec!["a".into(), "1.00 ms".into()]);
        t.note("n");
        assert!(t.text().contains("\n  a     1.00 ms\n"), "{}", t.text());
        let md = t.markdown();
        assert!(md.contains("| name | value |\n| --- | ---: |\n| a | 1.00 ms |"));
        assert!(md.contains("- n"));
    }
}
