//! Counts what the generator writes, row by row, and turns the counts into the
//! [`SeedManifest`]. NULL bot names resolve to the default bot, as the migration
//! resolves them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::rows::{BanRow, ConversationRow, CourseRow, ElementRow, ParticipantRow, RunRow, SettingRow, WaitingRow};
use super::SeedManifest;
use crate::sql::LEGACY_TABLES;

/// JSON texts above this size count as large.
pub const LARGE_JSON_BYTES: usize = 64 * 1024;

/// Small ids for the few distinct names, so per-row keys stay cheap.
#[derive(Debug, Default)]
struct Names {
    ids: HashMap<String, u16>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u16 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u16::try_from(self.names.len()).expect("fewer than 65536 distinct bot names and course ids");
        self.ids.insert(name.to_string(), id);
        self.names.push(name.to_string());
        id
    }

    fn name(&self, id: u16) -> &str {
        &self.names[usize::from(id)]
    }
}

/// (element_id, json, element_type) of one course_element row.
type ElementContent = (Option<String>, Option<String>, Option<String>);

/// What makes two copies of a course the same: yaml and ordered element contents.
type CopyContent<'a> = (Option<&'a String>, Vec<&'a ElementContent>);

#[derive(Debug)]
pub(crate) struct Tally {
    default_bot: u16,
    bots: Names,
    courses: Names,
    rows: BTreeMap<&'static str, u64>,
    max_ids: BTreeMap<&'static str, i64>,
    /// (table, bot) -> rows; None is a NULL bot name.
    bot_refs: HashMap<(&'static str, Option<u16>), u64>,
    /// (table, course) -> rows; None is a NULL course_id.
    course_refs: HashMap<(&'static str, Option<u16>), u64>,
    /// (course, bot, yaml) of each course row.
    course_rows: Vec<(u16, u16, Option<String>)>,
    /// (course, resolved bot) -> (course_element_id, content).
    elements: BTreeMap<(u16, u16), Vec<(i64, ElementContent)>>,
    run_exists: Vec<bool>,
    /// conversation rows per referenced run_id (index = run_id).
    conversation_refs: Vec<u64>,
    /// references to run ids that cannot index a vector (zero or negative).
    odd_conversation_refs: BTreeMap<i32, u64>,
    null_run_refs: u64,
    /// (chat_id, resolved bot) -> unfinished runs.
    unfinished: HashMap<(Option<i64>, u16), u64>,
    participants: HashSet<(u16, String)>,
    duplicate_participants: u64,
    bans: HashSet<(u16, i64, i16)>,
    duplicate_bans: u64,
    null_is_ended_runs: u64,
    null_is_waiting: u64,
    large_json_rows: u64,
}

impl Tally {
    pub fn new(default_bot: &str) -> Tally {
        let mut bots = Names::default();
        let default_bot = bots.id(default_bot);
        Tally {
            default_bot,
            bots,
            courses: Names::default(),
            rows: BTreeMap::new(),
            max_ids: BTreeMap::new(),
            bot_refs: HashMap::new(),
            course_refs: HashMap::new(),
            course_rows: Vec::new(),
            elements: BTreeMap::new(),
            run_exists: Vec::new(),
            conversation_refs: Vec::new(),
            odd_conversation_refs: BTreeMap::new(),
            null_run_refs: 0,
            unfinished: HashMap::new(),
            participants: HashSet::new(),
            duplicate_participants: 0,
            bans: HashSet::new(),
            duplicate_bans: 0,
            null_is_ended_runs: 0,
            null_is_waiting: 0,
            large_json_rows: 0,
        }
    }

    /// The largest key written to a table with a sequence.
    pub fn max_id(&self, table: &str) -> Option<i64> {
        self.max_ids.get(table).copied()
    }

    fn row(&mut self, table: &'static str, id: Option<i64>) {
        *self.rows.entry(table).or_default() += 1;
        if let Some(id) = id {
            let max = self.max_ids.entry(table).or_insert(id);
            *max = (*max).max(id);
        }
    }

    fn bot(&mut self, table: &'static str, name: Option<&str>) -> u16 {
        let id = name.map(|n| self.bots.id(n));
        *self.bot_refs.entry((table, id)).or_default() += 1;
        id.unwrap_or(self.default_bot)
    }

    fn course(&mut self, table: &'static str, course_id: Option<&str>) -> Option<u16> {
        let id = course_id.map(|c| self.courses.id(c));
        *self.course_refs.entry((table, id)).or_default() += 1;
        id
    }

    pub fn conversation(&mut self, r: &ConversationRow<'_>) {
        self.row("conversation", Some(r.conversation_id));
        self.course("conversation", r.course_id);
        match r.run_id {
            None => self.null_run_refs += 1,
            Some(id) => match usize::try_from(id) {
                Ok(i) if i > 0 => {
                    if self.conversation_refs.len() <= i {
                        self.conversation_refs.resize(i + 1, 0);
                    }
                    self.conversation_refs[i] += 1;
                }
                _ => *self.odd_conversation_refs.entry(id).or_default() += 1,
            },
        }
        if r.json.is_some_and(|j| j.len() > LARGE_JSON_BYTES) {
            self.large_json_rows += 1;
        }
    }

    pub fn run(&mut self, r: &RunRow<'_>) {
        self.row("run", Some(i64::from(r.run_id)));
        let bot = self.bot("run", r.botname);
        self.course("run", r.course_id);
        if let Ok(i) = usize::try_from(r.run_id) {
            if self.run_exists.len() <= i {
                self.run_exists.resize(i + 1, false);
            }
            self.run_exists[i] = true;
        }
        if r.is_ended.is_none() {
            self.null_is_ended_runs += 1;
        }
        if r.is_ended != Some(true) {
            *self.unfinished.entry((r.chat_id, bot)).or_default() += 1;
        }
    }

    pub fn waiting(&mut self, r: &WaitingRow<'_>) {
        self.row("waiting_element", Some(i64::from(r.waiting_element_id)));
        self.bot("waiting_element", r.botname);
        self.course("waiting_element", r.course_id);
        if r.is_waiting.is_none() {
            self.null_is_waiting += 1;
        }
    }

    pub fn course_row(&mut self, r: &CourseRow<'_>) {
        self.row("course", None);
        let bot = self.bot("course", Some(r.bot_name));
        let course = self.courses.id(r.course_id);
        self.course_rows.push((course, bot, r.yaml.map(str::to_string)));
    }

    pub fn element(&mut self, r: &ElementRow<'_>) {
        self.row("course_element", Some(r.course_element_id));
        let bot = self.bot("course_element", r.bot_name);
        if let Some(course) = self.course("course_element", r.course_id) {
            let content = (r.element_id.map(str::to_string), r.json.map(str::to_string), r.element_type.map(str::to_string));
            self.elements.entry((course, bot)).or_default().push((r.course_element_id, content));
        }
    }

    pub fn participant(&mut self, r: &ParticipantRow<'_>) {
        self.row("courseparticipants", Some(i64::from(r.courseparticipant_id)));
        if let Some(course) = self.course("courseparticipants", r.course_id) {
            if !self.participants.insert((course, r.username.unwrap_or_default().to_string())) {
                self.duplicate_participants += 1;
            }
        }
    }

    pub fn ban(&mut self, r: &BanRow<'_>) {
        self.row("bannedparticipants", Some(i64::from(r.bannedparticipant_id)));
        let bot = self.bot("bannedparticipants", r.botname);
        if let (Some(chat), Some(excluded)) = (r.chat_id, r.excluded) {
            if !self.bans.insert((bot, chat, excluded)) {
                self.duplicate_bans += 1;
            }
        }
    }

    pub fn setting(&mut self, r: &SettingRow<'_>) {
        self.row("gen_settings", None);
        self.bot("gen_settings", r.bot_name);
    }

    pub fn finish(self, seed: u64, runs: u64) -> SeedManifest {
        let rows: BTreeMap<String, u64> =
            LEGACY_TABLES.iter().map(|t| (t.to_string(), self.rows.get(t).copied().unwrap_or(0))).collect();

        // Bots: where each name appears, and rows without one.
        let mut tables_of_bot: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
        let mut null_bot_rows: BTreeMap<String, u64> = BTreeMap::new();
        for (&(table, bot), &n) in &self.bot_refs {
            match bot {
                Some(b) => {
                    tables_of_bot.entry(self.bots.name(b).to_string()).or_default().insert(table);
                }
                None => *null_bot_rows.entry(table.to_string()).or_default() += n,
            }
        }
        let bot_names: Vec<String> = tables_of_bot.keys().cloned().collect();
        let mut bots_only_in: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (bot, tables) in &tables_of_bot {
            if let [only] = tables.iter().collect::<Vec<_>>()[..] {
                bots_only_in.entry(only.to_string()).or_default().push(bot.clone());
            }
        }

        // Courses: references to ids that no course row describes, and NULL ids.
        let with_row: BTreeSet<u16> = self.course_rows.iter().map(|(c, _, _)| *c).collect();
        let mut missing_course_ids = BTreeSet::new();
        let mut missing_course_refs: BTreeMap<String, u64> = BTreeMap::new();
        let mut null_course_rows: BTreeMap<String, u64> = BTreeMap::new();
        for (&(table, course), &n) in &self.course_refs {
            match course {
                None => *null_course_rows.entry(table.to_string()).or_default() += n,
                Some(c) if !with_row.contains(&c) => {
                    missing_course_ids.insert(self.courses.name(c).to_string());
                    *missing_course_refs.entry(table.to_string()).or_default() += n;
                }
                Some(_) => {}
            }
        }

        // The same course_id under several bots: are all copies the same?
        let mut copies: BTreeMap<u16, Vec<CopyContent<'_>>> = BTreeMap::new();
        for (course, bot, yaml) in &self.course_rows {
            let mut elements: Vec<&(i64, ElementContent)> =
                self.elements.get(&(*course, *bot)).map(|v| v.iter().collect()).unwrap_or_default();
            elements.sort_by_key(|(id, _)| *id);
            copies
                .entry(*course)
                .or_default()
                .push((yaml.as_ref(), elements.into_iter().map(|(_, content)| content).collect()));
        }
        let mut identical_copies = vec![];
        let mut differing_copies = vec![];
        for (course, versions) in &copies {
            if versions.len() < 2 {
                continue;
            }
            let name = self.courses.name(*course).to_string();
            if versions.iter().all(|v| *v == versions[0]) {
                identical_copies.push(name);
            } else {
                differing_copies.push(name);
            }
        }
        identical_copies.sort();
        differing_copies.sort();

        let orphan_run_refs = self
            .conversation_refs
            .iter()
            .enumerate()
            .filter(|(id, _)| !self.run_exists.get(*id).copied().unwrap_or(false))
            .map(|(_, n)| n)
            .sum::<u64>()
            + self.odd_conversation_refs.values().sum::<u64>();

        let groups: Vec<u64> = self.unfinished.values().copied().filter(|n| *n > 1).collect();

        SeedManifest {
            seed,
            runs,
            default_bot: self.bots.name(self.default_bot).to_string(),
            rows,
            bot_names,
            bots_only_in,
            null_bot_rows,
            missing_course_ids: missing_course_ids.into_iter().collect(),
            missing_course_refs,
            null_course_rows,
            identical_copies,
            differing_copies,
            orphan_run_refs,
            null_run_refs: self.null_run_refs,
            duplicate_active_groups: groups.len() as u64,
            runs_to_deactivate: groups.iter().map(|n| n - 1).sum(),
            duplicate_participants: self.duplicate_participants,
            duplicate_bans: self.duplicate_bans,
            null_is_ended_runs: self.null_is_ended_runs,
            null_is_waiting: self.null_is_waiting,
            large_json_rows: self.large_json_rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element<'a>(id: i64, course: &'a str, bot: Option<&'a str>, json: &'a str) -> ElementRow<'a> {
        ElementRow { course_element_id: id, element_id: Some("e"), json: Some(json), element_type: Some("message"), course_id: Some(course), bot_name: bot }
    }

    #[test]
    fn copies_compare_yaml_and_ordered_elements_with_null_bots_resolved() {
        let mut t = Tally::new("main");
        for (course, bot) in [("same", "main"), ("same", "other"), ("diff", "main"), ("diff", "other"), ("order", "main"), ("order", "other")] {
            t.course_row(&CourseRow { course_id: course, bot_name: bot, creator_id: None, date_created: None, yaml: Some("y") });
        }
        // NULL bot name on the main bot's elements: still the same copy.
        t.element(&element(1, "same", None, "a"));
        t.element(&element(5, "same", Some("other"), "a"));
        t.element(&element(2, "diff", Some("main"), "a"));
        t.element(&element(6, "diff", Some("other"), "b"));
        // Same elements, other order.
        t.element(&element(3, "order", Some("main"), "a"));
        t.element(&element(4, "order", Some("main"), "b"));
        t.element(&element(8, "order", Some("other"), "a"));
        t.element(&element(7, "order", Some("other"), "b"));
        let m = t.finish(0, 0);
        assert_eq!(m.identical_copies, vec!["same"]);
        assert_eq!(m.differing_copies, vec!["diff", "order"]);
        assert_eq!(m.null_bot_rows.get("course_element"), Some(&1));
        assert_eq!(m.rows["course_element"], 8);
    }

    #[test]
    fn unfinished_runs_group_by_chat_and_resolved_bot() {
        let mut t = Tally::new("main");
        let run = |id: i32, chat: i64, bot: Option<&'static str>, ended: Option<bool>| RunRow {
            run_id: id, chat_id: Some(chat), username: None, botname: bot, course_id: None, date_inserted: None,
            utm_source: None, utm_campaign: None, is_ended: ended,
        };
        t.run(&run(1, 10, None, None));
        t.run(&run(2, 10, Some("main"), Some(false)));
        t.run(&run(3, 10, Some("main"), None));
        t.run(&run(4, 10, Some("main"), Some(true)));
        t.run(&run(5, 10, Some("other"), None));
        t.run(&run(6, 11, Some("other"), None));
        t.run(&run(7, 11, Some("other"), None));
        let m = t.finish(0, 0);
        assert_eq!(m.duplicate_active_groups, 2);
        assert_eq!(m.runs_to_deactivate, 3);
        assert_eq!(m.null_is_ended_runs, 5);
    }

    #[test]
    fn duplicates_treat_null_usernames_as_empty_and_skip_null_keys() {
        let mut t = Tally::new("main");
        let p = |id, course, user| ParticipantRow { courseparticipant_id: id, course_id: course, username: user };
        t.participant(&p(1, Some("c"), None));
        t.participant(&p(2, Some("c"), Some("")));
        t.participant(&p(3, None, Some("u")));
        t.participant(&p(4, None, Some("u")));
        t.participant(&p(5, Some("c"), Some("u")));
        let b = |id, bot, chat, excluded| BanRow { bannedparticipant_id: id, botname: bot, chat_id: chat, banned_at: None, ban_reason: None, excluded };
        t.ban(&b(1, None, Some(1), Some(0)));
        t.ban(&b(2, Some("main"), Some(1), Some(0)));
        t.ban(&b(3, Some("main"), Some(1), Some(1)));
        t.ban(&b(4, Some("main"), Some(1), None));
        t.ban(&b(5, Some("main"), Some(1), None));
        t.ban(&b(6, Some("only_here"), None, Some(0)));
        let m = t.finish(0, 0);
        assert_eq!(m.duplicate_participants, 1);
        assert_eq!(m.duplicate_bans, 1);
        assert_eq!(m.missing_course_ids, vec!["c"]);
        assert_eq!(m.missing_course_refs.get("courseparticipants"), Some(&3));
        assert_eq!(m.null_course_rows.get("courseparticipants"), Some(&2));
        assert_eq!(m.bots_only_in.get("bannedparticipants"), Some(&vec!["main".to_string(), "only_here".to_string()]));
    }

    #[test]
    fn orphans_are_references_to_runs_never_written() {
        let mut t = Tally::new("main");
        let run = RunRow {
            run_id: 2, chat_id: Some(1), username: None, botname: None, course_id: None, date_inserted: None,
            utm_source: None, utm_campaign: None, is_ended: Some(true),
        };
        let conv = |id, run_id| ConversationRow {
            conversation_id: id, chat_id: None, username: None, course_id: None, element_id: None, element_type: None,
            role: None, json: None, report: None, score: None, maxscore: None, date_inserted: None, run_id,
        };
        t.conversation(&conv(1, Some(1)));
        t.conversation(&conv(2, Some(2)));
        t.conversation(&conv(3, Some(3)));
        t.conversation(&conv(4, None));
        t.conversation(&conv(5, Some(-4)));
        t.run(&run);
        let m = t.finish(0, 0);
        assert_eq!(m.orphan_run_refs, 3);
        assert_eq!(m.null_run_refs, 1);
    }
}
