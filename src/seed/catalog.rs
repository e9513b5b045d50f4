//! The small part of the dataset that does not grow with the number of runs:
//! bots, courses and their elements, settings. Texts and dates vary with the seed;
//! the shape (which course lives under which bot, which copies are identical)
//! does not, so every anomaly of this part is always present.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::runs::START;
use super::text::{json_string, phrase, yaml_string, Lang};

pub(crate) const MAIN_BOT: &str = "profochat_bot";
pub(crate) const TUTOR_BOT: &str = "english_tutor_bot";
pub(crate) const CYRILLIC_BOT: &str = "бот_курсы";
pub(crate) const QUOTES_BOT: &str = "O'Reilly \"Quotes\" bot";
pub(crate) const BANS_ONLY_BOT: &str = "moderation_legacy_bot";
pub(crate) const WAITING_ONLY_BOT: &str = "reminders_test_bot";
pub(crate) const SETTINGS_ONLY_BOT: &str = "staging_bot";

/// The bot that rows without a bot name were written for: the only bot there was
/// before multi-bot support.
pub(crate) const DEFAULT_BOT: &str = MAIN_BOT;

/// Bots that run courses.
pub(crate) const COURSE_BOTS: [&str; 4] = [MAIN_BOT, TUTOR_BOT, CYRILLIC_BOT, QUOTES_BOT];
pub(crate) const MAIN: usize = 0;
pub(crate) const TUTOR: usize = 1;
pub(crate) const CYRILLIC: usize = 2;
pub(crate) const QUOTES: usize = 3;
/// Share of users (percent) whose home is each course bot.
pub(crate) const COURSE_BOT_SHARE: [(usize, u32); 4] = [(MAIN, 55), (TUTOR, 22), (CYRILLIC, 14), (QUOTES, 9)];

/// Random stream numbers of the generator: one per independent part.
pub(crate) mod stream {
    pub const CATALOG: u64 = 1;
    pub const RUNS: u64 = 2;
    pub const CONVERSATION: u64 = 3;
    pub const WAITING: u64 = 4;
    pub const PARTICIPANTS: u64 = 5;
    pub const BANS: u64 = 6;
}

pub(crate) struct Template {
    pub id: &'static str,
    title: &'static str,
    lang: Lang,
    steps: &'static [(&'static str, &'static str)],
}

const PYTHON: Template = Template {
    id: "python_basics",
    title: "Python: основы программирования",
    lang: Lang::Ru,
    steps: &[
        ("intro", "message"), ("variables", "message"), ("quiz_1", "quiz"), ("loops", "message"),
        ("delay_1", "delay"), ("functions", "message"), ("task_1", "input"), ("quiz_2", "quiz"),
        ("gpt_help", "dialog"), ("final_test", "test"), ("end", "end"),
    ],
};
const ENGLISH_A1: Template = Template {
    id: "english_a1",
    title: "English A1 for beginners",
    lang: Lang::En,
    steps: &[
        ("welcome", "message"), ("alphabet", "message"), ("quiz_1", "quiz"), ("greetings", "message"),
        ("delay_1", "delay"), ("speaking_1", "dialog"), ("quiz_2", "quiz"), ("end", "end"),
    ],
};
/// The tutor bot's edited copy of English A1: same id, other content.
const ENGLISH_A1_EDITED: Template = Template {
    id: "english_a1",
    title: "English A1 (tutor edition)",
    lang: Lang::En,
    steps: &[
        ("welcome", "message"), ("alphabet", "message"), ("quiz_1", "quiz"), ("greetings", "message"),
        ("pronunciation", "audio"), ("delay_1", "delay"), ("speaking_1", "dialog"), ("quiz_2", "quiz"),
        ("end", "end"),
    ],
};
const SALES: Template = Template {
    id: "sales_101",
    title: "Продажи 101",
    lang: Lang::Ru,
    steps: &[
        ("intro", "message"), ("funnel", "message"), ("case_1", "input"), ("delay_1", "delay"),
        ("quiz_1", "quiz"), ("roleplay", "dialog"), ("end", "end"),
    ],
};
pub(crate) const MARKETING: Template = Template {
    id: "курс_маркетинг",
    title: "Маркетинг «с нуля»",
    lang: Lang::Ru,
    steps: &[
        ("вступление", "message"), ("аудитория", "message"), ("задание_1", "input"), ("тест_1", "quiz"),
        ("пауза", "delay"), ("итоги", "end"),
    ],
};
pub(crate) const SQL: Template = Template {
    id: "o'reilly_sql \"advanced\"",
    title: "SQL \"advanced\" by O'Reilly",
    lang: Lang::En,
    steps: &[
        ("intro", "message"), ("joins", "message"), ("quiz_joins", "quiz"), ("window_functions", "message"),
        ("task_sql", "input"), ("delay_1", "delay"), ("exam", "test"), ("end", "end"),
    ],
};
const DATA_SCIENCE: Template = Template {
    id: "data_science_101",
    title: "Data Science 101",
    lang: Lang::En,
    steps: &[
        ("intro", "message"), ("pandas", "image"), ("quiz_1", "quiz"), ("delay_1", "delay"),
        ("project", "input"), ("end", "end"),
    ],
};
pub(crate) const ENGLISH_B2: Template = Template {
    id: "english_b2",
    title: "English B2: idioms and speaking",
    lang: Lang::En,
    steps: &[
        ("placement", "test"), ("idioms", "message"), ("quiz_idioms", "quiz"), ("essay", "input"),
        ("delay_1", "delay"), ("speaking", "dialog"), ("end", "end"),
    ],
};
const MINDFULNESS: Template = Template {
    id: "mindfulness_7days",
    title: "Осознанность за 7 дней",
    lang: Lang::Ru,
    steps: &[
        ("day_1", "message"), ("wait_1", "delay"), ("day_2", "message"), ("wait_2", "delay"),
        ("day_3", "message"), ("reflection", "input"), ("wait_3", "delay"), ("day_4", "message"),
        ("end", "end"),
    ],
};
/// Elements left behind by a course whose row was deleted.
const LEGACY_QUIZ: Template = Template {
    id: "legacy_quiz",
    title: "Старый квиз",
    lang: Lang::Ru,
    steps: &[("q1", "quiz"), ("q2", "quiz"), ("q3", "quiz"), ("result", "end")],
};
/// Courses that live only in YAML files: runs name them, no row describes them.
pub(crate) const WELCOME: Template = Template {
    id: "welcome_tour",
    title: "Welcome tour",
    lang: Lang::Ru,
    steps: &[("hello", "message"), ("menu", "message"), ("first_question", "input"), ("delay_1", "delay"), ("bye", "end")],
};
const ONBOARDING: Template = Template {
    id: "onboarding_yaml",
    title: "Onboarding",
    lang: Lang::En,
    steps: &[("start", "message"), ("profile", "input"), ("goals", "dialog"), ("end", "end")],
};
const YAML_TEST: Template = Template {
    id: "тест_yaml",
    title: "Тест из YAML",
    lang: Lang::Ru,
    steps: &[("вопрос_1", "quiz"), ("вопрос_2", "quiz"), ("итог", "end")],
};
/// Talk with the model outside any course (course_id NULL).
const FREE_CHAT: Template = Template {
    id: "",
    title: "",
    lang: Lang::Ru,
    steps: &[("gpt_chat", "dialog")],
};
/// Unfinished elements saved without a course.
const DRAFTS: Template = Template {
    id: "",
    title: "",
    lang: Lang::Ru,
    steps: &[("draft_message", "message"), ("draft_quiz", "quiz")],
};

/// One element of a course as the bot sends it.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub element_id: String,
    pub element_type: &'static str,
    pub text: String,
    pub json: String,
}

impl Step {
    /// Whether the user answers this element.
    pub fn expects_answer(&self) -> bool {
        matches!(self.element_type, "quiz" | "input" | "dialog" | "test")
    }
}

/// What a run of one course goes through.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub course_id: Option<&'static str>,
    pub lang: Lang,
    pub steps: Vec<Step>,
    /// Indexes of the delay elements (what waiting elements name).
    pub delays: Vec<usize>,
    pub yaml: String,
}

#[derive(Debug)]
pub(crate) struct CourseData {
    pub course_id: &'static str,
    pub bot_name: &'static str,
    pub creator_id: Option<i64>,
    pub date_created: Option<i64>,
    /// Program whose YAML this row holds; None for a course edited outside YAML.
    pub yaml_of: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct ElementData {
    pub course_element_id: i64,
    pub program: usize,
    pub step: usize,
    pub bot_name: Option<&'static str>,
}

#[derive(Debug)]
pub(crate) struct SettingData {
    pub id: i32,
    pub bot_name: Option<&'static str>,
    pub key: &'static str,
    pub value: Option<String>,
}

/// Bots, courses, elements and settings of one seed.
#[derive(Debug)]
pub(crate) struct Catalog {
    pub programs: Vec<Program>,
    pub courses: Vec<CourseData>,
    pub elements: Vec<ElementData>,
    pub settings: Vec<SettingData>,
    /// Per course bot: the programs its runs follow, weighted.
    pub menus: [Vec<(usize, u32)>; 4],
    pub free_chat: usize,
    pub welcome: usize,
    /// Courses that participants are added to (None: a NULL course_id), weighted.
    pub private_courses: Vec<(Option<&'static str>, u32)>,
    /// The dense profile: every anomaly in bulk (see [`super::Profile::Dense`]).
    pub dense: bool,
}

/// A weighted choice.
pub(crate) fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut r = rng.gen_range(0..total);
    for (item, w) in items {
        if r < *w {
            return *item;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

fn file_id(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut s = String::from(prefix);
    for _ in 0..40 {
        s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    s
}

fn step(rng: &mut ChaCha8Rng, lang: Lang, element_id: &str, element_type: &'static str) -> Step {
    let text = phrase(rng, lang, 60, 190);
    let mut json = String::with_capacity(360);
    json.push_str("{\"type\":\"");
    json.push_str(element_type);
    json.push_str("\",\"text\":");
    json_string(&mut json, &text);
    match element_type {
        "message" => json.push_str(",\"parse_mode\":\"MARKDOWN\",\"link_preview\":false"),
        "quiz" => {
            json.push_str(",\"answers\":[");
            for i in 0..3 {
                if i > 0 {
                    json.push(',');
                }
                json.push_str("{\"text\":");
                json_string(&mut json, &phrase(rng, lang, 6, 24));
                if i == 0 {
                    json.push_str(",\"correct\":\"yes\"");
                }
                json.push('}');
            }
            json.push(']');
        }
        "input" => json.push_str(",\"input_type\":\"text\",\"needs_answer\":true"),
        "dialog" => {
            json.push_str(",\"prompt\":");
            json_string(&mut json, &phrase(rng, Lang::En, 30, 80));
            json.push_str(",\"model\":\"gpt-4o-mini\",\"temperature\":0.7");
        }
        "delay" => {
            let wait = [3600, 86_400, 172_800][rng.gen_range(0..3)];
            json.push_str(&format!(",\"wait\":{wait}"));
        }
        "test" => json.push_str(",\"questions\":5,\"pass_score\":4"),
        "audio" => {
            json.push_str(",\"file_id\":");
            json_string(&mut json, &file_id(rng, "AwACAgIAAxkBAAI"));
        }
        "image" => {
            json.push_str(",\"file_id\":");
            json_string(&mut json, &file_id(rng, "AgACAgIAAxkBAAI"));
        }
        _ => {}
    }
    json.push('}');
    Step {
        element_id: element_id.to_string(),
        element_type,
        text,
        json,
    }
}

fn program(rng: &mut ChaCha8Rng, t: &Template) -> Program {
    let steps: Vec<Step> = t.steps.iter().map(|(id, ty)| step(rng, t.lang, id, ty)).collect();
    let delays = steps.iter().enumerate().filter(|(_, s)| s.element_type == "delay").map(|(i, _)| i).collect();
    let mut yaml = String::with_capacity(256 * steps.len());
    yaml.push_str("course_id: ");
    yaml_string(&mut yaml, t.id);
    yaml.push_str("\ntitle: ");
    yaml_string(&mut yaml, t.title);
    yaml.push_str("\nelements:\n");
    for s in &steps {
        yaml.push_str("  ");
        yaml_string(&mut yaml, &s.element_id);
        yaml.push_str(":\n    type: ");
        yaml.push_str(s.element_type);
        yaml.push_str("\n    text: ");
        yaml_string(&mut yaml, &s.text);
        yaml.push('\n');
    }
    Program {
        course_id: (!t.id.is_empty()).then_some(t.id),
        lang: t.lang,
        steps,
        delays,
        yaml,
    }
}

impl Catalog {
    #[cfg(test)]
    pub fn new(seed: u64) -> Catalog {
        Catalog::with_profile(seed, super::Profile::Standard, 0)
    }

    /// The catalog of a profile; the dense one adds, per 100 runs, a course published
    /// under two bots: two of three times with differing content (one copy is
    /// renamed), else identical (merged).
    pub fn with_profile(seed: u64, profile: super::Profile, runs: u64) -> Catalog {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream::CATALOG);
        let rng = &mut rng;

        let mut programs = Vec::new();
        let mut add = |rng: &mut ChaCha8Rng, t: &Template| {
            programs.push(program(rng, t));
            programs.len() - 1
        };
        let python = add(rng, &PYTHON);
        let english_a1 = add(rng, &ENGLISH_A1);
        let english_a1_edited = add(rng, &ENGLISH_A1_EDITED);
        let sales = add(rng, &SALES);
        let marketing = add(rng, &MARKETING);
        let sql = add(rng, &SQL);
        let data_science = add(rng, &DATA_SCIENCE);
        let english_b2 = add(rng, &ENGLISH_B2);
        let mindfulness = add(rng, &MINDFULNESS);
        let legacy_quiz = add(rng, &LEGACY_QUIZ);
        let welcome = add(rng, &WELCOME);
        let onboarding = add(rng, &ONBOARDING);
        let yaml_test = add(rng, &YAML_TEST);
        let free_chat = add(rng, &FREE_CHAT);
        let drafts = add(rng, &DRAFTS);

        // Course rows, in the order they were published.
        let mut courses = Vec::new();
        let mut course = |rng: &mut ChaCha8Rng, p: usize, bot: &'static str, yaml: bool, dated: bool| {
            let course_id = programs[p].course_id.unwrap_or_default();
            courses.push(CourseData {
                course_id,
                bot_name: bot,
                creator_id: dated.then(|| rng.gen_range(100_000_000..7_000_000_000)),
                date_created: dated.then(|| START - rng.gen_range(86_400..400 * 86_400)),
                yaml_of: yaml.then_some(p),
            });
        };
        course(rng, python, MAIN_BOT, true, true);
        course(rng, sales, MAIN_BOT, true, true);
        course(rng, english_a1, MAIN_BOT, true, true);
        course(rng, mindfulness, MAIN_BOT, true, false);
        course(rng, python, TUTOR_BOT, true, true);
        course(rng, english_a1_edited, TUTOR_BOT, true, true);
        course(rng, english_b2, TUTOR_BOT, true, true);
        course(rng, python, CYRILLIC_BOT, true, true);
        course(rng, marketing, CYRILLIC_BOT, true, true);
        course(rng, sql, QUOTES_BOT, true, true);
        course(rng, data_science, QUOTES_BOT, false, true);

        // Element rows: ids grow with every publication, with gaps where older
        // versions were deleted.
        let mut elements = Vec::new();
        let mut next_id = 1i64;
        let publications: [(usize, Option<&'static str>); 13] = [
            (python, Some(MAIN_BOT)),
            // Published before multi-bot support: no bot name.
            (sales, None),
            (english_a1, Some(MAIN_BOT)),
            (legacy_quiz, Some(MAIN_BOT)),
            (mindfulness, Some(MAIN_BOT)),
            (python, Some(TUTOR_BOT)),
            (english_a1_edited, Some(TUTOR_BOT)),
            (english_b2, Some(TUTOR_BOT)),
            (python, Some(CYRILLIC_BOT)),
            (marketing, Some(CYRILLIC_BOT)),
            (sql, Some(QUOTES_BOT)),
            (data_science, Some(QUOTES_BOT)),
            (drafts, Some(MAIN_BOT)),
        ];
        for (p, bot) in publications {
            next_id += rng.gen_range(0..40);
            for s in 0..programs[p].steps.len() {
                elements.push(ElementData {
                    course_element_id: next_id,
                    program: p,
                    step: s,
                    bot_name: bot,
                });
                next_id += 1;
            }
        }

        let mut menus = [
            vec![(python, 24), (english_a1, 20), (sales, 14), (mindfulness, 10), (welcome, 8), (onboarding, 3), (legacy_quiz, 2)],
            vec![(english_a1_edited, 38), (english_b2, 30), (python, 20), (welcome, 8)],
            vec![(python, 40), (marketing, 48), (yaml_test, 10)],
            vec![(sql, 60), (data_science, 40)],
        ];
        let private_courses = vec![
            (Some(ENGLISH_B2.id), 30),
            (Some(SQL.id), 25),
            (Some(MARKETING.id), 20),
            (Some(SALES.id), 15),
            (Some(WELCOME.id), 9),
            (None, 1),
        ];

        let dense = profile == super::Profile::Dense;
        if dense {
            for k in 0..(runs / 100).max(10) {
                // Leaked once per dataset: course ids are 'static like the catalog's own.
                let id: &'static str = Box::leak(format!("{}_copy_{k}", PYTHON.id).into_boxed_str());
                let mut a = programs[python].clone();
                a.course_id = Some(id);
                let mut b = programs[if k % 3 == 0 { python } else { english_b2 }].clone();
                b.course_id = Some(id);
                programs.push(a);
                programs.push(b);
                let (pa, pb) = (programs.len() - 2, programs.len() - 1);
                let mut publish = |p: usize, bot: &'static str| {
                    let course_id = programs[p].course_id.unwrap_or_default();
                    courses.push(CourseData {
                        course_id,
                        bot_name: bot,
                        creator_id: Some(rng.gen_range(100_000_000..7_000_000_000)),
                        date_created: Some(START - rng.gen_range(86_400..400 * 86_400)),
                        yaml_of: Some(p),
                    });
                    next_id += rng.gen_range(0..40);
                    for s in 0..programs[p].steps.len() {
                        elements.push(ElementData { course_element_id: next_id, program: p, step: s, bot_name: Some(bot) });
                        next_id += 1;
                    }
                };
                publish(pa, MAIN_BOT);
                publish(pb, TUTOR_BOT);
                menus[MAIN].push((pa, 1));
                menus[TUTOR].push((pb, 1));
            }
        }

        let settings = settings(rng);
        Catalog {
            programs,
            courses,
            elements,
            settings,
            menus,
            free_chat,
            welcome,
            private_courses,
            dense,
        }
    }

    pub fn element_step(&self, e: &ElementData) -> &Step {
        &self.programs[e.program].steps[e.step]
    }
}

fn settings(rng: &mut ChaCha8Rng) -> Vec<SettingData> {
    let temperature = |rng: &mut ChaCha8Rng| format!("{:.1}", f64::from(rng.gen_range(0..=10u8)) / 10.0);
    let tokens = |rng: &mut ChaCha8Rng| [512, 1024, 2048, 4096][rng.gen_range(0..4)].to_string();
    let prompt = |rng: &mut ChaCha8Rng, lang: Lang, intro: &str| {
        let mut s = String::from(intro);
        s.push('\n');
        s.push_str(&phrase(rng, lang, 120, 400));
        s
    };
    let mut list = vec![
        (None, "openai_model", Some("gpt-4o-mini".to_string())),
        (None, "temperature", Some(temperature(rng))),
        (
            None,
            "system_prompt",
            Some(prompt(rng, Lang::Ru, "Ты — доброжелательный преподаватель. Отвечай «по делу» и не пиши \"воду\".")),
        ),
        (None, "ban_threshold", Some(rng.gen_range(10..60).to_string())),
        (Some(MAIN_BOT), "max_tokens", Some(tokens(rng))),
        (Some(MAIN_BOT), "reminder_text", None),
        (
            Some(TUTOR_BOT),
            "system_prompt",
            Some(prompt(rng, Lang::En, "You are an English tutor. Answer in \"simple\" English;\tcorrect mistakes gently.")),
        ),
        (Some(TUTOR_BOT), "temperature", Some(temperature(rng))),
        (Some(CYRILLIC_BOT), "welcome_text", Some(prompt(rng, Lang::Ru, "Привет! Это бот курсов."))),
        (Some(QUOTES_BOT), "openai_model", Some("gpt-4o".to_string())),
        (Some(QUOTES_BOT), "max_tokens", Some(tokens(rng))),
        (Some(SETTINGS_ONLY_BOT), "openai_model", Some("gpt-4o-mini".to_string())),
        (Some(SETTINGS_ONLY_BOT), "temperature", Some(temperature(rng))),
    ];
    // Settings were added and removed over the years: ids have gaps.
    let mut id = 0;
    list.drain(..)
        .map(|(bot_name, key, value)| {
            id += 1 + rng.gen_range(0..3);
            SettingData { id, bot_name, key, value }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_json_is_valid_and_of_realistic_size() {
        let c = Catalog::new(1);
        for p in &c.programs {
            for s in &p.steps {
                let v: serde_json::Value = serde_json::from_str(&s.json).unwrap_or_else(|e| panic!("{e}: {}", s.json));
                assert_eq!(v["type"], s.element_type);
                assert!((90..=420).contains(&s.json.len()), "{}: {}", s.json.len(), s.json);
            }
        }
    }

    #[test]
    fn same_seed_same_catalog() {
        let a = Catalog::new(9);
        let b = Catalog::new(9);
        let c = Catalog::new(10);
        assert_eq!(a.programs[0].yaml, b.programs[0].yaml);
        assert_ne!(a.programs[0].yaml, c.programs[0].yaml);
    }
}
