use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::num::NonZeroU32;

use uuid::Uuid;

use super::Invalid;

/// How many items a page holds: 1 to 1,000, 50 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    pub const MAX: u32 = 1000;
    pub const DEFAULT: PageLimit = PageLimit(50);

    pub fn new(limit: u32) -> Result<Self, Invalid> {
        if (1..=Self::MAX).contains(&limit) {
            Ok(Self(limit))
        } else {
            Err(Invalid::new(format!("must be between 1 and {}", Self::MAX)))
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        s.parse::<u32>()
            .map_err(|_| Invalid::new(format!("must be an integer between 1 and {}", Self::MAX)))
            .and_then(Self::new)
    }

    pub fn get(&self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Where the next page starts: opaque to clients, the last id of the page before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor(Uuid);

impl PageCursor {
    pub fn after(id: Uuid) -> Self {
        Self(id)
    }

    pub fn last_id(&self) -> Uuid {
        self.0
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let invalid = || Invalid::new("is not a cursor this server issued");
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid())?;
        Uuid::from_slice(&bytes).map(Self).map_err(|_| invalid())
    }
}

/// A numbered page: `number` counts from 1, every page but the last holds `size` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberedPage {
    pub number: NonZeroU32,
    pub size: PageLimit,
}

impl NumberedPage {
    /// How many items come before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.number.get() - 1) * u64::from(self.size.get())
    }
}

/// Which page to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: PageLimit,
    pub after: Option<PageCursor>,
}

/// A page of items in id order, and where the next one starts (`None` on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageCursor>,
}

impl<T> Page<T> {
    /// Makes a page from up to `limit + 1` rows read in id order: the extra row only
    /// tells that another page follows.
    pub fn from_rows(mut rows: Vec<T>, limit: PageLimit, id: impl Fn(&T) -> Uuid) -> Self {
        let limit = limit.get() as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| PageCursor::after(id(last)))
        } else {
            None
        };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_pages_start_at_one() {
        let page = |number, size| NumberedPage {
            number: NonZeroU32::new(number).unwrap(),
            size: PageLimit::new(size).unwrap(),
        };
        assert_eq!(page(1, 100).offset(), 0);
        assert_eq!(page(3, 100).offset(), 200);
        assert_eq!(
            page(u32::MAX, 1000).offset(),
            (u64::from(u32::MAX) - 1) * 1000
        );
    }

    #[test]
    fn limits_are_between_one_and_a_thousand() {
        assert!(PageLimit::parse("0").is_err());
        assert!(PageLimit::parse("1001").is_err());
        assert!(PageLimit::parse("-1").is_err());
        assert!(PageLimit::parse("ten").is_err());
        assert_eq!(PageLimit::parse("1000").unwrap().get(), 1000);
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let id = Uuid::now_v7();
        let cursor = PageCursor::after(id);
        assert_eq!(PageCursor::parse(&cursor.encode()), Ok(cursor));
        assert!(PageCursor::parse("!!").is_err());
        assert!(PageCursor::parse("AAAA").is_err());
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_more_rows_follow() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let limit = PageLimit::new(2).unwrap();
        let page = Page::from_rows(ids.clone(), limit, |id| *id);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next, Some(PageCursor::after(ids[1])));
        let last = Page::from_rows(ids[..2].to_vec(), limit, |id| *id);
        assert_eq!(last.next, None);
    }
}
