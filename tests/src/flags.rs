//! The bench binaries' command-line flags: `--name value` and bare `--name`.

use std::error::Error;
use std::str::FromStr;

/// Whether `name` is among the arguments.
pub fn present(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

/// The value after `name`: `Ok(None)` when the flag is absent, an error when it is last.
pub fn value<'a>(args: &'a [String], name: &str) -> Result<Option<&'a str>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .map(|v| Some(v.as_str()))
            .ok_or_else(|| format!("a value must follow {name}")),
    }
}

/// The value after `name` parsed, or `default` when the flag is absent.
pub fn parsed<T>(args: &[String], name: &str, default: T) -> Result<T, Box<dyn Error>>
where
    T: FromStr,
    T::Err: Error + 'static,
{
    match value(args, name)? {
        Some(v) => v
            .parse()
            .map_err(|e: T::Err| format!("{name} {v}: {e}").into()),
        None => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn values_numbers_and_bare_flags() {
        let a = args(&["bench", "--users", "300000", "--no-warmup", "--phase"]);
        assert_eq!(parsed(&a, "--users", 1usize).unwrap(), 300_000);
        assert_eq!(parsed(&a, "--rounds", 3usize).unwrap(), 3);
        assert!(present(&a, "--no-warmup"));
        assert!(!present(&a, "--sweep"));
        assert_eq!(value(&a, "--sweep").unwrap(), None);
        assert!(value(&a, "--phase").is_err());
        assert!(parsed::<usize>(&args(&["--users", "many"]), "--users", 1).is_err());
    }
}
