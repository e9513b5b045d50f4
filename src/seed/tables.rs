//! The rows of each legacy table, produced a few at a time into a [`CopyBuf`] and
//! counted by the [`Tally`] as they are written.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalog::{
    pick, stream, Catalog, BANS_ONLY_BOT, COURSE_BOTS, COURSE_BOT_SHARE, CYRILLIC, ENGLISH_B2, MAIN, MARKETING, QUOTES, SQL,
    TUTOR, WAITING_ONLY_BOT, WELCOME,
};
use super::copy::CopyBuf;
use super::rows::{BanRow, ConversationRow, CourseRow, ElementRow, ParticipantRow, RunRow, SettingRow, WaitingRow};
use super::runs::{chat_id, username, RunSpec, RunStream, SPAN, START};
use super::tally::Tally;
use super::text::{json_string, large_dialog_json, phrase, prose, Lang};

/// A legacy table's rows, written a few at a time.
pub(crate) trait TableRows {
    /// Writes the next rows (possibly none) into `out`; false once the table is complete.
    fn write_some(&mut self, out: &mut CopyBuf, tally: &mut Tally) -> bool;
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Rows of the course table.
pub(crate) struct Courses<'c> {
    pub catalog: &'c Catalog,
    pub next: usize,
}

impl TableRows for Courses<'_> {
    fn write_some(&mut self, out: &mut CopyBuf, tally: &mut Tally) -> bool {
        let Some(c) = self.catalog.courses.get(self.next) else {
            return false;
        };
        self.next += 1;
        let row = CourseRow {
            course_id: c.course_id,
            bot_name: c.bot_name,
            creator_id: c.creator_id,
            date_created: c.date_created,
            yaml: c.yaml_of.map(|p| self.catalog.programs[p].yaml.as_str()),
        };
        row.write(out);
        tally.course_row(&row);
        true
    }
}

/// Rows of the course_element table.
pub(crate) struct Elements<'c> {
    pub catalog: &'c Catalog,
    pub next: usize,
}

impl TableRows for Elements<'_> {
    fn write_some(&mut self, out: &mut CopyBuf, tally: &mut Tally) -> bool {
        let Some(e) = self.catalog.elements.get(self.next) else {
            return false;
        };
        self.next += 1;
        let step = self.catalog.element_step(e);
        let row = ElementRow {
            course_element_id: e.course_element_id,
            element_id: Some(&step.element_id),
            json: Some(&step.json),
            element_type: Some(step.element_type),
            course_id: self.catalog.programs[e.program].course_id,
            bot_name: e.bot_name,
        };
        row.write(out);
        tally.element(&row);
        true
    }
}

/// Rows of the run table.
pub(crate) struct Runs<'c> {
    pub catalog: &'c Catalog,
    pub seed: u64,
    pub stream: RunStream<'c>,
}

impl TableRows for Runs<'_> {
    fn write_some(&mut self, out: &mut CopyBuf, tally: &mut Tally) -> bool {
        let Some(spec) = self.stream.next() else {
            return false;
        };
        if spec.deleted {
            return true;
        }
        let name = username(self.seed, spec.user);
        let row = RunRow {
            run_id: spec.run_id,
            chat_id: Some(chat_id(self.seed, spec.user)),
            username: name.as_deref(),
            botname: spec.botname,
            course_id: self.catalog.programs[spec.program].course_id,
            date_inserted: (!spec.date_missing).then_some(spec.at),
            utm_source: spec.utm_source,
            utm_campaign: spec.utm_campaign,
            is_ended: spec.is_ended,
        };
        row.write(out);
        tally.run(&row);
        true
    }
}

/// Rows of the conversation table: about ten per run, the bot's elements and the
/// user's answers, now and then a very large dialog.
pub(crate) struct Conversations<'c> {
    pub catalog: &'c Catalog,
    pub seed: u64,
    pub stream: RunStream<'c>,
    pub rng: ChaCha8Rng,
    pub next_id: i64,
    pub answer: String,
    pub report: String,
}

impl<'c> Conversations<'c> {
    pub fn new(catalog: &'c Catalog, seed: u64, runs: u64) -> Self {
        Conversations {
            catalog,
            seed,
            stream: RunStream::new(catalog, seed, runs),
            rng: rng_for(seed, stream::CONVERSATION),
            next_id: 1,
            answer: String::with_capacity(512),
            report: String::with_capacity(512),
        }
    }
}

/// One in this many conversation rows holds a large JSON document.
const LARGE_JSON_ONE_IN: u32 = 5000;

impl TableRows for Conversations<'_> {
    fn write_some(&mut self, out: &mut CopyBuf, tally: &mut Tally) -> bool {
        let Some(spec) = self.stream.next() else {
            return false;
        };
        let Conversations { catalog, seed, rng, next_id, answer, report, .. } = self;
        let program = &catalog.programs[spec.program];
        let chat = Some(chat_id(*seed, spec.user));
        let name = username(*seed, spec.user);
        let run_id = (!spec.null_run_ref).then_some(spec.run_id);
        let mut at = spec.at;
        let mut left = spec.conversation_rows;
        let mut step_no = 0;
        let mut after_delay = false;
        let mut first = true;
        while left > 0 {
            let step = &program.steps[step_no.min(program.steps.len() - 1)];
            step_no += 1;

            // The next element comes hours later after a delay, seconds later otherwise.
            at += if after_delay { rng.gen_range(3600..90_000) } else { rng.gen_range(2..120) };
            after_delay = step.element_type == "delay";
            let large = (first && spec.large_first) || rng.gen_ratio(1, LARGE_JSON_ONE_IN);
            let big;
            let json = if large {
                let mut s = String::new();
                let size = rng.gen_range(100_000..180_000);
                large_dialog_json(rng, &mut s, size);
                big = s;
                big.as_str()
            } else {
                step.json.as_str()
            };
            let undated = (first && spec.date_missing) || rng.gen_ratio(1, 2000);
            let row = ConversationRow {
                conversation_id: *next_id,
                chat_id: chat,
                username: name.as_deref(),
                course_id: program.course_id,
                element_id: Some(&step.element_id),
                element_type: Some(step.element_type),
                role: Some("assistant"),
                json: Some(json),
                report: None,
                score: None,
                maxscore: None,
                date_inserted: (!undated).then_some(at),
                run_id,
            };
            row.write(out);
            tally.conversation(&row);
            *next_id += 1;
            left -= 1;
            first = false;

            if left == 0 || !step.expects_answer() {
                continue;
            }
            at += rng.gen_range(20..3600);
            answer_json(rng, answer, program.lang, *next_id, at);
            let (report_text, score, maxscore) = grade(rng, report, step.element_type, program.lang);
            let undated = rng.gen_ratio(1, 2000);
            let row = ConversationRow {
                conversation_id: *next_id,
                chat_id: chat,
                username: name.as_deref(),
                course_id: program.course_id,
                element_id: Some(&step.element_id),
                element_type: Some(step.element_type),
                role: Some("user"),
                json: Some(answer.as_str()),
                report: report_text.then_some(report.as_str()),
                score,
                maxscore,
                date_inserted: (!undated).then_some(at),
                run_id,
            };
            row.write(out);
            tally.conversation(&row);
            *next_id += 1;
            left -= 1;
        }
        true
    }
}

/// The user's message as the bot stored it.
fn answer_json(rng: &mut ChaCha8Rng, out: &mut String, lang: Lang, message_id: i64, at: i64) {
    out.clear();
    out.push_str("{\"type\":\"answer\",\"text\":");
    let text = if rng.gen_ratio(1, 12) {
        // A code answer: line breaks and tabs.
        format!("def solve(items):\n\tresult = [x * 2 for x in items]\n\treturn result  # {}", phrase(rng, lang, 5, 30))
    } else {
        phrase(rng, lang, 20, 150)
    };
    json_string(out, &text);
    out.push_str(&format!(",\"message_id\":{},\"date\":{at}}}", 1000 + message_id % 900_000));
}

/// The bot's assessment of an answer: (report written?, score, maxscore).
fn grade(rng: &mut ChaCha8Rng, report: &mut String, element_type: &str, lang: Lang) -> (bool, Option<f32>, Option<f32>) {
    report.clear();
    match element_type {
        "quiz" => {
            let right = rng.gen_bool(0.7);
            report.push_str(if right { "Верно!" } else { "Неверно. Правильный ответ — первый." });
            (true, Some(if right { 1.0 } else { 0.0 }), Some(1.0))
        }
        "test" => {
            let mut score = 0;
            for q in 1..=5 {
                let right = rng.gen_bool(0.75);
                score += u8::from(right);
                report.push_str(&format!("Вопрос {q}: {}\n", if right { "верно" } else { "неверно" }));
            }
            report.push_str(&format!("Итого: {score} из 5"));
            (true, Some(f32::from(score)), Some(5.0))
        }
        "input" if rng.gen_bool(0.4) => {
            // Feedback pasted from a Windows client: CR LF and tabs.
            report.push_str("Хорошая попытка!\r\nЗамечания:\r\n\t- ");
            let first = rng.gen_range(30..120);
            prose(rng, report, lang, first);
            report.push_str("\r\n\t- ");
            let second = rng.gen_range(20..80);
            prose(rng, report, lang, second);
            (true, None, None)
        }
        _ => (false, None, None),
    }
}

/// Rows of the waiting_element table: delays of runs, plus a test bot's reminders
/// that exist nowhere else.
pub(crate) struct Waiting<'c> {
    pub catalog: &'c Catalog,
    pub seed: u64,
    pub stream: RunStream<'c>,
    pub rng: ChaCha8Rng,
    pub next_id: i32,
    pub reminders_left: u64,
    pub users: u64,
}

/// Reminders of the bot that appears only in waiting_element.
pub(crate) fn reminder_rows(runs: u64) -> u64 {
    (runs / 4000).max(2)
}

impl<'c> Waiting<'c> {
    pub fn new(catalog: &'c Catalog, seed: u64, runs: u64, users: u64) -> Self {
        Waiting {
            catalog,
            seed,
            stream: RunStream::new(catalog, seed, runs),
            rng: rng_for(seed, stream::WAITING),
            next_id: 1,
            reminders_left: reminder_rows(runs),
            users,
        }
    }
}

impl TableRows for Waiting<'_> {
    fn write_some(&mut self, out: &mut CopyBuf, tally: &mut Tally) -> bool {
        if let Some(spec) = self.stream.next() {
            self.write_run(&spec, out, tally);
            return true;
        }
        if self.reminders_left == 0 {
            return false;
        }
        self.reminders_left -= 1;
        let user = self.rng.gen_range(0..self.users);
        let row = WaitingRow {
            waiting_element_id: self.next_id,
            chat_id: Some(chat_id(self.seed, user)),
            waiting_till_date: Some(START + SPAN + self.rng.gen_range(3600..30 * 86_400)),
            is_waiting: Some(true),
            element_id: Some("reminder_1"),
            course_id: (self.reminders_left % 2 == 1).then_some(self.catalog.programs[self.catalog.welcome].course_id).flatten(),
            botname: Some(WAITING_ONLY_BOT),
        };
        row.write(out);
        tally.waiting(&row);
        self.next_id += 1;
        true
    }
}

impl Waiting<'_> {
    fn write_run(&mut self, spec: &RunSpec, out: &mut CopyBuf, tally: &mut Tally) {
        let program = &self.catalog.programs[spec.program];
        for k in 0..spec.waiting {
            let element_id = match program.delays.get(k as usize).or(program.delays.first()) {
                Some(i) => program.steps[*i].element_id.as_str(),
                None => "delay",
            };
            let r: f64 = self.rng.gen();
            let is_waiting = if k == 0 && spec.first_waiting_unknown {
                None
            } else if r < 0.8 {
                Some(false)
            } else if r < 0.92 {
                Some(true)
            } else {
                None
            };
            let row = WaitingRow {
                waiting_element_id: self.next_id,
                chat_id: Some(chat_id(self.seed, spec.user)),
                waiting_till_date: Some(spec.at + self.rng.gen_range(3600..72 * 3600)),
                is_waiting,
                element_id: Some(element_id),
                course_id: program.course_id,
                botname: spec.botname,
            };
            row.write(out);
            tally.waiting(&row);
            self.next_id += 1;
        }
    }
}

/// Rows of courseparticipants: users admitted to private courses, some twice.
pub(crate) struct Participants<'c> {
    pub catalog: &'c Catalog,
    pub seed: u64,
    pub rng: ChaCha8Rng,
    pub next_id: i32,
    pub total: u64,
    pub users: u64,
    pub recent: VecDeque<(Option<&'static str>, u64)>,
    pub scripted: Vec<(Option<&'static str>, Option<String>)>,
}

pub(crate) fn participant_rows(runs: u64, dense: bool) -> u64 {
    if dense {
        (runs / 2).max(20)
    } else {
        (runs / 8).max(20)
    }
}

impl<'c> Participants<'c> {
    pub fn new(catalog: &'c Catalog, seed: u64, runs: u64, users: u64) -> Self {
        let b2 = Some(ENGLISH_B2.id);
        let marketing = Some(MARKETING.id);
        let yaml_only = Some(WELCOME.id);
        let sql = Some(SQL.id);
        let scripted = vec![
            // Added twice by an operator.
            (b2, username(seed, 1)),
            (b2, username(seed, 1)),
            // A course that lives in YAML only.
            (yaml_only, username(seed, 0)),
            // No course at all, twice: never a duplicate.
            (None, username(seed, 0)),
            (None, username(seed, 0)),
            // No username and an empty one: the same member under the new key.
            (marketing, None),
            (marketing, Some(String::new())),
            (sql, username(seed, 1)),
        ];
        Participants {
            catalog,
            seed,
            rng: rng_for(seed, stream::PARTICIPANTS),
            next_id: 1,
            total: participant_rows(runs, catalog.dense),
            users,
            recent: VecDeque::with_capacity(16),
            scripted,
        }
    }
}

impl TableRows for Participants<'_> {
    fn write_some(&mut self, out: &mut CopyBuf, tally: &mut Tally) -> bool {
        if u64::try_from(self.next_id - 1).unwrap_or(u64::MAX) >= self.total {
            return false;
        }
        let index = (self.next_id - 1) as usize;
        let (course_id, name) = if index < self.scripted.len() {
            self.scripted[index].clone()
        } else {
            let (course, user) = match self.recent.front() {
                Some(&pair) if self.rng.gen_ratio(1, if self.catalog.dense { 3 } else { 50 }) => pair,
                _ => (pick(&mut self.rng, &self.catalog.private_courses), self.rng.gen_range(0..self.users)),
            };
            if self.recent.len() == 16 {
                self.recent.pop_back();
            }
            self.recent.push_front((course, user));
            (course, username(self.seed, user))
        };
        let row = ParticipantRow {
            courseparticipant_id: self.next_id,
            course_id,
            username: name.as_deref(),
        };
        row.write(out);
        tally.participant(&row);
        self.next_id += 1;
        true
    }
}

/// Rows of bannedparticipants: auto-bans, some fired twice, some from before
/// multi-bot support, and an old moderation bot that appears nowhere else.
pub(crate) struct Bans {
    pub seed: u64,
    pub rng: ChaCha8Rng,
    pub next_id: i32,
    pub total: u64,
    pub users: u64,
    pub recent: VecDeque<(Option<&'static str>, i64, Option<i16>)>,
    pub scripted: Vec<(Option<&'static str>, i64, Option<i16>, &'static str)>,
    /// Dense profile: one ban in three fires again.
    pub dense: bool,
}

const BAN_REASONS: &[(&str, u32)] = &[
    ("spam", 40),
    ("flood: 30 messages in 10 seconds", 30),
    ("оскорбления в чате", 12),
    ("abuse of the \"dialog\" element", 10),
    ("manual: requested by admin O'Brien", 5),
    ("links\tto\tother bots", 3),
];

pub(crate) fn ban_rows(runs: u64, dense: bool) -> u64 {
    if dense {
        (runs / 4).max(20)
    } else {
        (runs / 40).max(20)
    }
}

impl Bans {
    pub fn new(seed: u64, runs: u64, users: u64, dense: bool) -> Self {
        let chat = |u: u64| chat_id(seed, u);
        let mut scripted = vec![];
        for k in 0..(runs / 5000).max(2) {
            scripted.push((Some(BANS_ONLY_BOT), chat(2 + k % users.saturating_sub(2).max(1)), Some(0), "flood"));
        }
        scripted.extend([
            // Before multi-bot support, then again on the named main bot: one ban after the migration.
            (None, chat(0), Some(0), "spam"),
            (Some(COURSE_BOTS[MAIN]), chat(0), Some(0), "spam"),
            // The auto-ban fired twice.
            (Some(COURSE_BOTS[TUTOR]), chat(1), Some(0), "flood: 30 messages in 10 seconds"),
            (Some(COURSE_BOTS[TUTOR]), chat(1), Some(0), "flood: 30 messages in 10 seconds"),
            (Some(COURSE_BOTS[QUOTES]), chat(1), None, "manual: requested by admin O'Brien"),
            (Some(COURSE_BOTS[CYRILLIC]), chat(0), Some(1), "оскорбления в чате"),
        ]);
        Bans {
            seed,
            rng: rng_for(seed, stream::BANS),
            next_id: 1,
            total: ban_rows(runs, dense).max(scripted.len() as u64),
            users,
            dense,
            recent: VecDeque::with_capacity(16),
            scripted,
        }
    }
}

impl TableRows for Bans {
    fn write_some(&mut self, out: &mut CopyBuf, tally: &mut Tally) -> bool {
        if u64::try_from(self.next_id - 1).unwrap_or(u64::MAX) >= self.total {
            return false;
        }
        let index = (self.next_id - 1) as usize;
        let rng = &mut self.rng;
        let (botname, chat, excluded, reason, banned_at) = if index < self.scripted.len() {
            let (bot, chat, excluded, reason) = self.scripted[index];
            // The very first ban predates the banned_at column.
            let at = (index > 0).then(|| START + index as i64 * 3600);
            (bot, chat, excluded, reason, at)
        } else {
            let (bot, chat, excluded) = match self.recent.front() {
                Some(&key) if if self.dense { rng.gen_ratio(1, 3) } else { rng.gen_ratio(3, 100) } => key,
                _ => {
                    let bot = if rng.gen_ratio(1, 10) { None } else { Some(COURSE_BOTS[pick(rng, &COURSE_BOT_SHARE)]) };
                    let r = rng.gen_range(0..100);
                    let excluded = if r < 85 {
                        Some(0)
                    } else if r < 95 {
                        Some(1)
                    } else {
                        None
                    };
                    (bot, chat_id(self.seed, rng.gen_range(0..self.users)), excluded)
                }
            };
            if self.recent.len() == 16 {
                self.recent.pop_back();
            }
            self.recent.push_front((bot, chat, excluded));
            // Bans without a bot name come from the first months.
            let window = if bot.is_none() { SPAN / 16 } else { SPAN };
            let at = (!rng.gen_ratio(1, 50)).then(|| START + rng.gen_range(0..window));
            (bot, chat, excluded, pick(rng, BAN_REASONS), at)
        };
        let row = BanRow {
            bannedparticipant_id: self.next_id,
            botname,
            chat_id: Some(chat),
            banned_at,
            ban_reason: Some(reason),
            excluded,
        };
        row.write(out);
        tally.ban(&row);
        self.next_id += 1;
        true
    }
}

/// Rows of gen_settings.
pub(crate) struct Settings<'c> {
    pub catalog: &'c Catalog,
    pub next: usize,
}

impl TableRows for Settings<'_> {
    fn write_some(&mut self, out: &mut CopyBuf, tally: &mut Tally) -> bool {
        let Some(s) = self.catalog.settings.get(self.next) else {
            return false;
        };
        self.next += 1;
        let row = SettingRow {
            id: s.id,
            bot_name: s.bot_name,
            s_key: Some(s.key),
            s_value: s.value.as_deref(),
        };
        row.write(out);
        tally.setting(&row);
        true
    }
}
