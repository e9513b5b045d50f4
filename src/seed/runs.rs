//! Users and runs. A run is decided by a header (who, which bot, which course,
//! when, how it ended, how many messages); every table that follows runs
//! (run, conversation, waiting_element) replays the same headers from the seed
//! instead of keeping them, so memory does not grow with the dataset.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalog::{pick, stream, Catalog, COURSE_BOTS, COURSE_BOT_SHARE, MAIN, TUTOR};

/// The dataset starts on 2021-09-01 00:00:00 UTC and covers three years.
pub(crate) const START: i64 = 1_630_454_400;
pub(crate) const SPAN: i64 = 3 * 365 * 86_400;

/// Users 0 and 1 carry the scripted anomalies; regular users start after them.
const FIRST_REGULAR_USER: u64 = 2;

/// A well-mixed hash of (seed, x): per-user facts without storing users.
pub(crate) fn mix(seed: u64, x: u64) -> u64 {
    let mut z = seed ^ x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The Telegram chat of a user: distinct per user; a few are group chats (negative ids).
pub(crate) fn chat_id(seed: u64, user: u64) -> i64 {
    let h = mix(seed, user);
    let base = user as i64 * 37 + (h % 37) as i64;
    if user >= FIRST_REGULAR_USER && (h >> 56) < 3 {
        -(1_000_000_000_000 + base)
    } else {
        150_000_000 + base
    }
}

const LATIN_FIRST: &[&str] = &["ivan", "anna", "max", "olga", "dmitry", "kate", "alex", "sergey", "maria", "john", "li", "fatima", "nikita", "elena"];
const LATIN_LAST: &[&str] = &["petrov", "smirnova", "dev", "k", "pro", "qa", "official", "ivanova", "lee", "m"];
const CYRILLIC_FIRST: &[&str] = &["Иван", "Анна", "Мария", "Дмитрий", "Ольга", "Сергей", "Екатерина", "Алёна"];
const CYRILLIC_LAST: &[&str] = &["К", "Петрова", "Смирнов", "Ёлкина", "Новиков", "В"];
const QUOTED: &[&str] = &["d'artagnan", "o'brien_k", "\"the_boss\"", "Jean-Luc \"JL\" Picard", "mc'donald", "⭐star_user"];

/// The username a user's rows carry: NULL for a few, empty for fewer, unicode and
/// quotes for some. Mostly distinct, as Telegram usernames are.
pub(crate) fn username(seed: u64, user: u64) -> Option<String> {
    match user {
        0 => return Some("Мария_К".into()),
        1 => return Some("o'connor \"JJ\"".into()),
        _ => {}
    }
    let h = mix(seed ^ 0x5EED, user);
    let kind = h % 1000;
    let a = (h >> 10) as usize;
    let b = (h >> 20) as usize;
    let number = (h >> 30) % 10_000;
    let name = if kind < 25 {
        return None;
    } else if kind < 28 {
        String::new()
    } else if kind < 40 {
        format!("{}{number}", QUOTED[a % QUOTED.len()])
    } else if kind < 300 {
        format!("{}_{}{number}", CYRILLIC_FIRST[a % CYRILLIC_FIRST.len()], CYRILLIC_LAST[b % CYRILLIC_LAST.len()])
    } else if kind < 650 {
        format!("{}_{}{number}", LATIN_FIRST[a % LATIN_FIRST.len()], LATIN_LAST[b % LATIN_LAST.len()])
    } else {
        format!("{}{}_{}", LATIN_FIRST[a % LATIN_FIRST.len()], 1960 + (h >> 44) % 50, number)
    };
    Some(name)
}

/// The course bot a user mostly talks to.
fn home_bot(seed: u64, user: u64) -> usize {
    let mut r = (mix(seed ^ 0xB07, user) % 100) as u32;
    for (bot, share) in COURSE_BOT_SHARE {
        if r < share {
            return bot;
        }
        r -= share;
    }
    MAIN
}

const UTM_SOURCES: &[(&str, u32)] = &[("telegram", 40), ("instagram", 20), ("vk", 15), ("youtube", 10), ("google", 10), ("партнёр", 5)];
const UTM_CAMPAIGNS: &[(Option<&str>, u32)] =
    &[(Some("spring_sale_2022"), 20), (Some("black_friday"), 20), (Some("webinar_23"), 25), (Some("блогер_анна"), 10), (None, 25)];

/// Everything about one run that the tables derived from it need.
#[derive(Debug, Clone)]
pub(crate) struct RunSpec {
    pub run_id: i32,
    /// Deleted long ago: no run row, but its conversation rows remain.
    pub deleted: bool,
    pub user: u64,
    pub botname: Option<&'static str>,
    pub program: usize,
    pub at: i64,
    pub date_missing: bool,
    pub utm_source: Option<&'static str>,
    pub utm_campaign: Option<&'static str>,
    pub is_ended: Option<bool>,
    pub conversation_rows: u32,
    /// Written before conversation rows carried a run_id.
    pub null_run_ref: bool,
    pub waiting: u32,
    pub first_waiting_unknown: bool,
    pub large_first: bool,
}

/// Where the scripted anomalies go, so that each is present at small sizes too.
#[derive(Debug, Clone, Copy)]
struct Script {
    /// Runs before this slot were written before multi-bot support (NULL botname).
    null_bot_until: u64,
    /// Conversation rows of runs before this slot carry no run_id.
    null_run_ref_until: u64,
    /// User 0 comes back on the main bot, now named, with her old runs still open.
    returning: u64,
    /// User 1 opens two runs on the tutor bot and finishes neither.
    twins: u64,
    no_course: u64,
    deleted: u64,
    undated: u64,
}

impl Script {
    fn new(runs: u64) -> Script {
        Script {
            null_bot_until: (runs * 6 / 100).max(2).min(runs.saturating_sub(1)),
            null_run_ref_until: (runs * 3 / 100).max(1).min(runs),
            returning: (runs * 6 / 100).max(2).min(runs.saturating_sub(1)),
            twins: runs / 3,
            no_course: runs / 5,
            deleted: runs / 7,
            undated: runs / 4,
        }
    }
}

/// The run headers of one seed, in run_id order.
pub(crate) struct RunStream<'c> {
    catalog: &'c Catalog,
    seed: u64,
    rng: ChaCha8Rng,
    runs: u64,
    slot: u64,
    users: u64,
    script: Script,
    /// Dense profile: the chat, bot and course of the last run that a newer
    /// unfinished run supersedes.
    superseded: Option<(u64, Option<&'static str>, usize)>,
}

impl<'c> RunStream<'c> {
    pub fn new(catalog: &'c Catalog, seed: u64, runs: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream::RUNS);
        RunStream {
            catalog,
            seed,
            rng,
            runs,
            slot: 0,
            users: FIRST_REGULAR_USER,
            script: Script::new(runs),
            superseded: None,
        }
    }

    /// Users seen so far (after the last header: all users of the dataset).
    pub fn users(&self) -> u64 {
        self.users
    }

    fn pick_user(&mut self) -> u64 {
        let rng = &mut self.rng;
        let regular = self.users - FIRST_REGULAR_USER;
        if regular == 0 || rng.gen_bool(0.58) {
            self.users += 1;
            return self.users - 1;
        }
        if rng.gen_bool(0.5) {
            // Someone who started recently comes back.
            self.users - 1 - rng.gen_range(0..regular.min(300))
        } else {
            rng.gen_range(FIRST_REGULAR_USER..self.users)
        }
    }
}

impl Iterator for RunStream<'_> {
    type Item = RunSpec;

    fn next(&mut self) -> Option<RunSpec> {
        if self.slot >= self.runs {
            return None;
        }
        let slot = self.slot;
        self.slot += 1;
        let s = self.script;
        let catalog = self.catalog;
        let mut user = self.pick_user();
        let rng = &mut self.rng;

        let before_multi_bot = slot < s.null_bot_until;
        let bot = if before_multi_bot {
            MAIN
        } else if rng.gen_bool(0.85) {
            home_bot(self.seed, user)
        } else {
            pick(rng, &COURSE_BOT_SHARE)
        };
        let mut botname = (!before_multi_bot).then_some(COURSE_BOTS[bot]);
        let mut program = if rng.gen_ratio(1, 200) { catalog.free_chat } else { pick(rng, &catalog.menus[bot]) };
        let step = SPAN / self.runs as i64;
        let at = START + slot as i64 * SPAN / self.runs as i64 + rng.gen_range(0..step.max(1));
        let r: f64 = rng.gen();
        let mut is_ended = if r < 0.5 {
            Some(true)
        } else if r < 0.88 {
            None
        } else {
            Some(false)
        };
        let (utm_source, utm_campaign) = if rng.gen_ratio(1, 4) {
            (Some(pick(rng, UTM_SOURCES)), pick(rng, UTM_CAMPAIGNS))
        } else {
            (None, None)
        };
        let mut deleted = slot + 1 < self.runs && rng.gen_ratio(1, 250);
        let mut date_missing = rng.gen_ratio(1, 500);
        let w = rng.gen_range(0..1000);
        let mut waiting = if w < 25 {
            2
        } else if w < 275 {
            1
        } else {
            0
        };
        let mut first_waiting_unknown = false;
        let mut large_first = false;

        // Dense profile: of every three runs, the first is left unfinished and the
        // second, unfinished too, starts over on the same chat and bot (a third of the
        // runs are superseded); the third is deleted one time in ten (orphans).
        if catalog.dense && slot >= 2 {
            match slot % 3 {
                0 => {
                    is_ended = if rng.gen_bool(0.5) { None } else { Some(false) };
                    deleted = false;
                    self.superseded = Some((user, botname, program));
                }
                1 => {
                    if let Some((u, b, p)) = self.superseded.take() {
                        (user, botname, program) = (u, b, p);
                        is_ended = if rng.gen_bool(0.5) { None } else { Some(false) };
                        deleted = false;
                    }
                }
                _ => deleted = slot + 1 < self.runs && rng.gen_ratio(1, 10),
            }
        }

        // The scripted anomalies.
        if slot < 2 {
            user = 0;
            if slot == 1 {
                program = catalog.welcome;
            } else {
                program = pick(rng, &catalog.menus[MAIN]);
            }
            is_ended = if slot == 0 { None } else { Some(false) };
            waiting = 1;
            first_waiting_unknown = slot == 0;
            deleted = false;
        } else if slot == s.returning {
            user = 0;
            botname = Some(COURSE_BOTS[MAIN]);
            program = pick(rng, &catalog.menus[MAIN]);
            is_ended = None;
            deleted = false;
        } else if slot == s.twins || slot == s.twins + 1 {
            user = 1;
            botname = Some(COURSE_BOTS[TUTOR]);
            program = pick(rng, &catalog.menus[TUTOR]);
            is_ended = if slot == s.twins { Some(false) } else { None };
            large_first = slot == s.twins;
            deleted = false;
        } else if slot == s.deleted && slot + 1 < self.runs {
            deleted = true;
        }
        if slot == s.no_course {
            program = catalog.free_chat;
            waiting = waiting.max(1);
        }
        if slot == s.undated {
            date_missing = true;
        }
        let conversation_rows = if is_ended == Some(true) { rng.gen_range(8..=20) } else { rng.gen_range(1..=10) };
        if deleted {
            waiting = 0;
        }

        Some(RunSpec {
            run_id: i32::try_from(slot + 1).unwrap_or(i32::MAX),
            deleted,
            user,
            botname,
            program,
            at,
            date_missing,
            utm_source,
            utm_campaign,
            is_ended,
            conversation_rows,
            null_run_ref: slot < s.null_run_ref_until,
            waiting,
            first_waiting_unknown,
            large_first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_are_distinct_per_user() {
        let mut seen = std::collections::HashSet::new();
        for u in 0..100_000 {
            assert!(seen.insert(chat_id(5, u)), "user {u}");
        }
    }

    #[test]
    fn headers_replay_identically() {
        let c = Catalog::new(4);
        let a: Vec<_> = RunStream::new(&c, 4, 500).map(|r| (r.run_id, r.user, r.program, r.at, r.is_ended, r.conversation_rows)).collect();
        let b: Vec<_> = RunStream::new(&c, 4, 500).map(|r| (r.run_id, r.user, r.program, r.at, r.is_ended, r.conversation_rows)).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 500);
    }

    #[test]
    fn usernames_cover_null_empty_unicode_and_quotes() {
        let names: Vec<_> = (2..5000).map(|u| username(1, u)).collect();
        assert!(names.iter().any(Option::is_none));
        assert!(names.iter().any(|n| n.as_deref() == Some("")));
        assert!(names.iter().flatten().any(|n| n.contains('\'') || n.contains('"')));
        assert!(names.iter().flatten().any(|n| !n.is_ascii()));
    }
}
