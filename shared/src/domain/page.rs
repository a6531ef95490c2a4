//! The page-size rule every list shares (GET /users, POST /users/search and the paged
//! lists of keys, jobs and audit events).

pub const DEFAULT_PAGE_LIMIT: u32 = 20;
pub const MAX_PAGE_LIMIT: u32 = 100;
const OUT_OF_RANGE: &str = "must be from 1 to 100";

/// The page size a list request asks for: the default when it names none.
pub fn page_limit(requested: Option<u32>) -> Result<u32, &'static str> {
    match requested {
        None => Ok(DEFAULT_PAGE_LIMIT),
        Some(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(OUT_OF_RANGE),
    }
}

/// `page_limit` of a limit sent as text (a query string, or a body that may say `"20"`).
pub fn parse_page_limit(requested: Option<&str>) -> Result<u32, &'static str> {
    let requested = requested.map(str::parse::<u32>).transpose();
    page_limit(requested.map_err(|_| OUT_OF_RANGE)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_one_to_a_hundred_with_a_default() {
        assert_eq!(page_limit(None), Ok(DEFAULT_PAGE_LIMIT));
        assert_eq!(page_limit(Some(1)), Ok(1));
        assert_eq!(page_limit(Some(MAX_PAGE_LIMIT)), Ok(MAX_PAGE_LIMIT));
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(MAX_PAGE_LIMIT + 1)).is_err());
        assert_eq!(parse_page_limit(Some("7")), Ok(7));
        assert_eq!(parse_page_limit(None), Ok(DEFAULT_PAGE_LIMIT));
        for bad in ["0", "101", "-1", "ten", ""] {
            assert!(parse_page_limit(Some(bad)).is_err(), "{bad:?}");
        }
    }
}
