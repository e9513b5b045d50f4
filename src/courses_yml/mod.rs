//! Courses that the legacy bot reads from YAML files, moved into the database.
//!
//! The legacy bot keeps courses in `scripts/<BOT_FOLDER>courses.yml`: a mapping of course
//! id to its settings — `path` (the course file, relative to the directory of courses.yml,
//! which is the bot's folder) or `path: db` (published to the database), `element`,
//! `restricted`, `decline_text`, `ban_enabled`, `ban_text`, … — and `ext_courses`, courses
//! of other files or bots that this bot also runs. A course file is a mapping of element id
//! to element (`type: message|quiz|…`).
//!
//! The migration makes a course row for each course id that rows name but no course row
//! holds, so that references resolve; the upstream application prefers a database row to
//! the file, so without its content it shows such a course empty. [`import`] writes the
//! content as the legacy bot's own publish would have: `course.yaml` the file's text, one
//! `course_element (bot_name, course_id, element_id, json, element_type)` per element in
//! file order, `json` the element as JSON the way the legacy bot writes it (Python's
//! `json.dumps(element, ensure_ascii=False)`: keys in file order, `", "` and `": "`
//! separators, non-ASCII text as it is), and `course.metadata` the courses.yml settings.
//! The legacy interface does not show the imported elements: the legacy bot keeps reading
//! those courses from its files.
//!
//! Keys that name secrets (`token`, `api_token`, `secret`, `password`, …) are never read
//! into settings, printed or stored.

use std::path::{Path, PathBuf};

use serde::Serialize;
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result};

mod import;
mod json;

pub use import::{import, yaml_only_courses, yaml_only_courses_legacy, CourseImport, ImportReport, Outcome};
use json::{depth, key_text, to_json_value};
pub use json::to_json_text;

/// The largest courses.yml or course file read (a course file is text, not media).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// One `--courses-yml [BOT=]FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoursesYmlArg {
    /// The bot whose courses.yml it is; None: the name of its folder (`scripts/<bot>/`),
    /// else the only bot, else the default bot of the migration.
    pub bot: Option<String>,
    pub file: PathBuf,
}

impl std::str::FromStr for CoursesYmlArg {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        // BOT=FILE, unless the part before '=' looks like a path (a file name may hold '=').
        match s.split_once('=') {
            Some((bot, file)) if !bot.is_empty() && !bot.contains('/') && !file.is_empty() => {
                Ok(CoursesYmlArg { bot: Some(bot.to_string()), file: PathBuf::from(file) })
            }
            _ if s.is_empty() => Err("expected FILE or BOT=FILE".into()),
            _ => Ok(CoursesYmlArg { bot: None, file: PathBuf::from(s) }),
        }
    }
}

/// An element of a course file, as the legacy bot publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Element {
    pub element_id: String,
    /// The element as JSON text, as the legacy bot writes it.
    pub json: String,
    /// The element's `type`.
    pub element_type: Option<String>,
}

/// Where a course's content lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `path: db`: published to the database already.
    Db,
    /// A course file, read.
    File { path: PathBuf, text: String, elements: Vec<Element> },
    /// An `ext_courses` entry without a path: the course of another courses.yml.
    Elsewhere,
}

/// One course of a courses.yml.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YamlCourse {
    pub course_id: String,
    pub source: Source,
    /// The courses.yml settings of the course (`element`, `restricted`, `decline_text`,
    /// `ban_enabled`, `ban_text`, …), without `path` and without secrets.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Listed under `ext_courses`.
    pub ext: bool,
}

/// A courses.yml, read with its course files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoursesYml {
    pub file: PathBuf,
    /// The bot given as `BOT=FILE`, if any.
    pub bot: Option<String>,
    pub courses: Vec<YamlCourse>,
}

impl CoursesYml {
    /// The name of the folder that holds courses.yml (`scripts/<BOT_FOLDER>`), if any.
    pub fn folder_name(&self) -> Option<String> {
        self.file
            .canonicalize()
            .unwrap_or_else(|_| self.file.clone())
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
    }
}

fn bad_file(path: &Path, what: impl std::fmt::Display, hint: &str) -> Error {
    Error::Usage { message: format!("{}: {what}", path.display()), hint: hint.to_string() }
}

fn read_text(path: &Path, what: &str) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| bad_file(path, format!("cannot read the {what} ({e})"), "Check the path."))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(bad_file(path, format!("the {what} has {} bytes, more than a course file can have", meta.len()), "Check the path."));
    }
    let bytes = std::fs::read(path).map_err(|e| bad_file(path, format!("cannot read the {what} ({e})"), "Check the path."))?;
    String::from_utf8(bytes).map_err(|e| {
        bad_file(path, format!("the {what} is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()), "Save it as UTF-8.")
    })
}

fn parse_yaml(path: &Path, text: &str, what: &str) -> Result<Yaml> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        bad_file(
            path,
            format!("line {}, column {}: {} (the {what} is not valid YAML)", e.marker().line(), e.marker().col() + 1, e.info()),
            "Fix the YAML at that place (the legacy bot could not read it either).",
        )
    })?;
    Ok(docs.into_iter().next().unwrap_or(Yaml::Null))
}

/// Whether a settings key names a secret: never read, printed or stored.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["token", "secret", "password", "passwd", "api_key", "apikey", "private_key"].iter().any(|s| k.contains(s))
}

/// Deeper than any course element nests.
const MAX_DEPTH: usize = 200;

/// Reads a course file: a mapping of element id to element.
pub fn read_course_file(path: &Path) -> Result<(String, Vec<Element>)> {
    let text = read_text(path, "course file")?;
    let doc = parse_yaml(path, &text, "course file")?;
    if depth(&doc) > MAX_DEPTH {
        return Err(bad_file(path, format!("lists and mappings nest more than {MAX_DEPTH} deep"), "Check the file: no course element nests so deep."));
    }
    let Yaml::Hash(h) = doc else {
        return Err(bad_file(
            path,
            "the course file is not a mapping of element id to element",
            "A course file maps each element id to its element (`type: message|quiz|…`).",
        ));
    };
    let mut elements = Vec::with_capacity(h.len());
    for (k, v) in &h {
        let Some(element_id) = key_text(k) else {
            return Err(bad_file(path, "an element id is a list or a mapping", "Element ids are names (text or numbers)."));
        };
        let element_type = match v {
            Yaml::Hash(e) => e.get(&Yaml::String("type".into())).and_then(key_text),
            _ => None,
        };
        elements.push(Element { element_id, json: to_json_text(v), element_type });
    }
    Ok((text, elements))
}

/// The course files of an entry are read relative to the folder of courses.yml (the
/// bot's folder, `scripts/<BOT_FOLDER>`); a path that does not exist there is tried
/// relative to the bot's working directory (the folder that holds `scripts/`).
fn resolve(base: &Path, rel: &str) -> PathBuf {
    let p = Path::new(rel);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let here = base.join(p);
    if here.exists() {
        return here;
    }
    let root = base.ancestors().find(|a| a.file_name().is_some_and(|n| n == "scripts")).and_then(|s| s.parent());
    match root {
        Some(r) if r.join(p).exists() => r.join(p),
        _ => here,
    }
}

fn course_entry(file: &Path, base: &Path, id: String, v: &Yaml, ext: bool) -> Result<YamlCourse> {
    let mut settings = serde_json::Map::new();
    let mut path = None;
    match v {
        Yaml::Hash(h) => {
            for (k, val) in h {
                let Some(k) = key_text(k) else { continue };
                if k == "path" {
                    path = key_text(val);
                } else if !is_secret_key(&k) {
                    settings.insert(k, to_json_value(val));
                }
            }
        }
        Yaml::Null => {}
        // `ext_courses` as a list names courses; a course mapped to text names its path.
        Yaml::String(s) if !ext => path = Some(s.clone()),
        Yaml::String(_) => {}
        _ => {
            return Err(bad_file(
                file,
                format!("course {}: its entry is neither a mapping nor a path", crate::sql::literal(&id)),
                "Each course maps to its settings: `path: FILE` (or `path: db`), `element`, `restricted`, ….",
            ))
        }
    }
    let source = match path.as_deref() {
        Some("db") => Source::Db,
        Some(rel) => {
            let p = resolve(base, rel);
            let (text, elements) = read_course_file(&p).map_err(|e| match e {
                Error::Usage { message, hint } => Error::Usage {
                    message: format!("course {} of {}: {message}", crate::sql::literal(&id), file.display()),
                    hint,
                },
                other => other,
            })?;
            Source::File { path: p, text, elements }
        }
        None if ext => Source::Elsewhere,
        None => {
            return Err(bad_file(
                file,
                format!("course {} has no path", crate::sql::literal(&id)),
                "Give it `path: FILE` (relative to the folder of courses.yml) or `path: db`.",
            ))
        }
    };
    Ok(YamlCourse { course_id: id, source, settings, ext })
}

/// Reads a courses.yml and every course file it names.
pub fn read(arg: &CoursesYmlArg) -> Result<CoursesYml> {
    let file = &arg.file;
    let text = read_text(file, "courses.yml")?;
    let doc = parse_yaml(file, &text, "courses.yml")?;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    let Yaml::Hash(h) = doc else {
        return Err(bad_file(file, "courses.yml is not a mapping of course id to course", "Point --courses-yml at the bot's courses.yml."));
    };
    let mut courses = vec![];
    for (k, v) in &h {
        let Some(id) = key_text(k) else { continue };
        if id == "ext_courses" {
            match v {
                Yaml::Hash(ext) => {
                    for (ek, ev) in ext {
                        if let Some(eid) = key_text(ek) {
                            courses.push(course_entry(file, &base, eid, ev, true)?);
                        }
                    }
                }
                Yaml::Array(list) => {
                    for item in list {
                        match item {
                            Yaml::Hash(one) => {
                                for (ek, ev) in one {
                                    if let Some(eid) = key_text(ek) {
                                        courses.push(course_entry(file, &base, eid, ev, true)?);
                                    }
                                }
                            }
                            other => {
                                if let Some(eid) = key_text(other) {
                                    courses.push(course_entry(file, &base, eid, &Yaml::Null, true)?);
                                }
                            }
                        }
                    }
                }
                Yaml::Null => {}
                _ => return Err(bad_file(file, "ext_courses is neither a list nor a mapping", "List the course ids, or map them to their settings.")),
            }
            continue;
        }
        // Settings of the bot itself (a token, a folder name) are no courses; secrets are never read.
        if is_secret_key(&id) || !matches!(v, Yaml::Hash(_)) {
            continue;
        }
        courses.push(course_entry(file, &base, id, v, false)?);
    }
    Ok(CoursesYml { file: file.clone(), bot: arg.bot.clone(), courses })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_file_argument() {
        assert_eq!("a.yml".parse::<CoursesYmlArg>().unwrap(), CoursesYmlArg { bot: None, file: "a.yml".into() });
        assert_eq!("bot=x/a.yml".parse::<CoursesYmlArg>().unwrap(), CoursesYmlArg { bot: Some("bot".into()), file: "x/a.yml".into() });
        assert_eq!("./x=y/a.yml".parse::<CoursesYmlArg>().unwrap(), CoursesYmlArg { bot: None, file: "./x=y/a.yml".into() });
        assert!("".parse::<CoursesYmlArg>().is_err());
    }

    #[test]
    fn secrets_are_recognised() {
        for k in ["token", "api_token", "BOT_TOKEN", "secret", "db_password"] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["element", "restricted", "decline_text", "ban_enabled", "ban_text", "path"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn bad_yaml_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("courses.yml");
        std::fs::write(&f, "a:\n  path: x.yml\n b: [\n").unwrap();
        let e = read(&CoursesYmlArg { bot: None, file: f.clone() }).unwrap_err().to_string();
        assert!(e.contains("courses.yml") && e.contains("line"), "{e}");
        std::fs::write(&f, "- just\n- a list\n").unwrap();
        assert!(read(&CoursesYmlArg { bot: None, file: f.clone() }).is_err());
        std::fs::write(&f, "c:\n  path: missing.yml\n").unwrap();
        let e = read(&CoursesYmlArg { bot: None, file: f.clone() }).unwrap_err().to_string();
        assert!(e.contains("missing.yml"), "{e}");
        // Deep nesting and odd input never panic.
        std::fs::write(&f, format!("a: {}{}", "[".repeat(5000), "]".repeat(5000))).unwrap();
        let _ = read(&CoursesYmlArg { bot: None, file: f.clone() });
        std::fs::write(&f, [0xffu8, 0xfe, 0x00]).unwrap();
        assert!(read(&CoursesYmlArg { bot: None, file: f }).is_err());
    }
}
