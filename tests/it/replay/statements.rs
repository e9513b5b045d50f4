//! The statements of §1 replayed: every read and every write, for the bots, chats,
//! courses, elements and runs of a legacy database.

use super::*;

/// Every §1 read, for every bot and a spread of chats, courses, elements and runs of
/// the legacy database `c`.
pub(crate) async fn reads(c: &Db) -> Vec<Stmt> {
    let mut bots = strings(c, "SELECT DISTINCT botname FROM run WHERE botname IS NOT NULL UNION SELECT bot_name FROM course
                                UNION SELECT botname FROM waiting_element WHERE botname IS NOT NULL
                                UNION SELECT botname FROM bannedparticipants WHERE botname IS NOT NULL
                                UNION SELECT bot_name FROM gen_settings WHERE bot_name IS NOT NULL
                                UNION SELECT bot_name FROM course_element WHERE bot_name IS NOT NULL ORDER BY 1").await;
    bots.push("no_such_bot".into());
    let mut courses = strings(c, "SELECT course_id FROM course UNION SELECT course_id FROM run WHERE course_id IS NOT NULL
                                   UNION SELECT course_id FROM course_element WHERE course_id IS NOT NULL
                                   UNION SELECT course_id FROM waiting_element WHERE course_id IS NOT NULL
                                   UNION SELECT course_id FROM courseparticipants WHERE course_id IS NOT NULL ORDER BY 1").await;
    courses.push("no_such_course".into());
    let chats = ints(c, "SELECT chat_id FROM (SELECT chat_id FROM run UNION SELECT chat_id FROM conversation
                          UNION SELECT chat_id FROM bannedparticipants UNION SELECT chat_id FROM waiting_element) x
                          WHERE chat_id IS NOT NULL ORDER BY chat_id LIMIT 120").await;
    let keys = strings(c, "SELECT DISTINCT s_key FROM gen_settings WHERE s_key IS NOT NULL UNION SELECT 'allowed' ORDER BY 1").await;
    let mut out = vec![];

    for bot in &bots {
        let b = lit(bot);
        out.push(set("the bot's courses", format!("SELECT course_id FROM course WHERE bot_name = {b}")));
        for k in &keys {
            out.push(set("who may edit", format!("SELECT s_value FROM gen_settings WHERE s_key = {} AND bot_name = {b}", lit(k))));
        }
        for now in ["'2024-01-15'", "'2100-01-01'"] {
            out.push(set(
                "due delays",
                format!(
                    "SELECT waiting_element_id, chat_id, element_id, course_id FROM waiting_element
                      WHERE is_waiting = TRUE AND botname = {b} AND waiting_till_date < {now}"
                ),
            ));
        }
        for course in &courses {
            let cc = lit(course);
            out.push(read("a course", format!("SELECT creator_id, date_created, yaml FROM course WHERE course_id = {cc} AND bot_name = {b} LIMIT 1")));
            let content = format!("SELECT element_id, json FROM course_element WHERE course_id = {cc} AND bot_name = {b} ORDER BY course_element_id");
            out.push(read("its content", content.clone()));
            out.push(read("its first element", format!("{content} LIMIT 1")));
        }
    }
    // Elements: by id, the next one, the first of the next module, for every element
    // of every (course, bot) copy.
    let elements = c
        .query(
            "SELECT DISTINCT course_id, bot_name, element_id FROM course_element
              WHERE course_id IS NOT NULL AND bot_name IS NOT NULL AND element_id IS NOT NULL ORDER BY 1, 2, 3 LIMIT 400",
            &[],
        )
        .await
        .unwrap();
    for r in &elements {
        let (cc, b, e) = (lit(r.get(0)), lit(r.get(1)), lit(r.get(2)));
        out.push(set(
            "one element",
            format!("SELECT element_id, json, element_type FROM course_element WHERE element_id = {e} AND course_id = {cc} AND bot_name = {b}"),
        ));
        let this = format!("(SELECT course_element_id FROM course_element WHERE element_id = {e} AND course_id = {cc} AND bot_name = {b})");
        out.push(read(
            "the element after",
            format!("SELECT element_id, json FROM course_element WHERE course_element_id > {this} AND course_id = {cc} AND bot_name = {b} ORDER BY course_element_id LIMIT 1"),
        ));
        out.push(read(
            "the next module",
            format!(
                "SELECT element_id, json FROM course_element WHERE course_id = {cc} AND bot_name = {b} AND course_element_id > {this}
                    AND split_part(element_id, '_', 1) <> split_part({e}, '_', 1) ORDER BY course_element_id LIMIT 1"
            ),
        ));
    }
    for chat in &chats {
        out.push(read(
            "where a chat is",
            format!("SELECT conversation_id, element_id, element_type, course_id, run_id, json FROM conversation WHERE chat_id = {chat} ORDER BY conversation_id DESC LIMIT 1"),
        ));
        let last = strings(c, &format!("SELECT element_id FROM conversation WHERE chat_id = {chat} AND element_id IS NOT NULL ORDER BY conversation_id LIMIT 2")).await;
        for e in last {
            out.push(read(
                "where a chat is, at an element",
                format!(
                    "SELECT conversation_id, element_id, element_type, course_id, run_id, json FROM conversation
                      WHERE chat_id = {chat} AND element_id = {} ORDER BY conversation_id DESC LIMIT 1",
                    lit(&e)
                ),
            ));
        }
        out.push(Stmt {
            kind: "the chat's name",
            sql: format!("SELECT username FROM run WHERE chat_id = {chat} ORDER BY date_inserted DESC LIMIT 1"),
            unordered: false,
            ties: Some(format!(
                "SELECT username FROM run WHERE chat_id = {chat}
                    AND date_inserted IS NOT DISTINCT FROM (SELECT date_inserted FROM run WHERE chat_id = {chat} ORDER BY date_inserted DESC LIMIT 1)"
            )),
        });
        for bot in &bots {
            let b = lit(bot);
            out.push(read("finished?", format!("SELECT is_ended FROM run WHERE chat_id = {chat} AND botname = {b} ORDER BY run_id DESC LIMIT 1")));
            out.push(read(
                "banned?",
                format!("SELECT EXISTS (SELECT 1 FROM bannedparticipants WHERE botname = {b} AND chat_id = {chat} AND excluded <> 1)"),
            ));
        }
    }
    let pairs = c
        .query("SELECT DISTINCT chat_id, course_id, botname FROM run WHERE chat_id IS NOT NULL AND course_id IS NOT NULL ORDER BY 1, 2, 3 LIMIT 300", &[])
        .await
        .unwrap();
    for r in &pairs {
        let (chat, cc) = (r.get::<_, i64>(0), lit(r.get(1)));
        out.push(Stmt {
            kind: "the chat's run of a course",
            sql: format!("SELECT run_id FROM run WHERE chat_id = {chat} AND course_id = {cc} ORDER BY date_inserted DESC LIMIT 1"),
            unordered: false,
            ties: Some(format!(
                "SELECT run_id FROM run WHERE chat_id = {chat} AND course_id = {cc}
                    AND date_inserted IS NOT DISTINCT FROM (SELECT date_inserted FROM run WHERE chat_id = {chat} AND course_id = {cc} ORDER BY date_inserted DESC LIMIT 1)"
            )),
        });
        if let Some(bot) = r.get::<_, Option<String>>(2) {
            out.push(read(
                "finished? (a course)",
                format!("SELECT is_ended FROM run WHERE chat_id = {chat} AND course_id = {cc} AND botname = {} ORDER BY run_id DESC LIMIT 1", lit(&bot)),
            ));
        }
    }
    // Scores of runs: existing ones, runs deleted long ago, NULL.
    let runs = ints(c, "SELECT DISTINCT run_id::int8 FROM conversation WHERE run_id IS NOT NULL ORDER BY 1 LIMIT 120").await;
    for r in &runs {
        let w = format!("FROM conversation WHERE run_id = {r}");
        out.push(read("score count", format!("SELECT count(*) {w}")));
        out.push(read("score sum", format!("SELECT sum(score) {w}")));
        out.push(read("score max", format!("SELECT sum(maxscore) {w}")));
        out.push(set("score rows, by type", format!("SELECT element_id, json {w} AND element_type = 'message'")));
        out.push(set("score rows, by prefix", format!("SELECT element_id, json {w} AND element_id LIKE 'e%'")));
        out.push(set("score rows, right", format!("SELECT element_id, json {w} AND score = 1")));
        out.push(set("score rows, wrong", format!("SELECT element_id, json {w} AND score != 1")));
    }
    let listed = c.query("SELECT DISTINCT course_id, username FROM courseparticipants WHERE course_id IS NOT NULL ORDER BY 1, 2 LIMIT 200", &[]).await.unwrap();
    for r in &listed {
        let cc = lit(r.get(0));
        for u in [r.get::<_, Option<String>>(1).unwrap_or_default(), String::new(), "nobody_at_all".into()] {
            out.push(read("on the list?", format!("SELECT EXISTS (SELECT 1 FROM courseparticipants WHERE course_id = {cc} AND username = {})", lit(&u))));
        }
    }
    out
}

/// A write of §1 and whether its answer (rows returned, rows affected) is compared.
pub(super) struct Write {
    pub(super) kind: &'static str,
    pub(super) sql: String,
}

fn w(kind: &'static str, sql: String) -> Write {
    Write { kind, sql }
}

/// Every §1 write, on every anomaly: starts on plain, renamed, merged, YAML-only and
/// new courses, NULL and new bot names; messages on them, on a run deleted long ago
/// and on none; delays; course ends; auto-bans; publishing and removing courses.
pub(super) fn writes(default_bot: &str, bots: &[String], courses: &[(String, String)]) -> Vec<Write> {
    let mut out = vec![];
    let mut chat = 7_000_000i64;
    let mut starts = vec![];
    let mut plus: Vec<(String, Option<String>)> = courses.iter().map(|(c, b)| (c.clone(), Some(b.clone()))).collect();
    plus.push(("yaml_only_course_started_now".into(), Some(default_bot.to_string())));
    plus.push(("intro".into(), None));
    plus.push(("brand_new_course".into(), Some("brand_new_bot".into())));
    for (course, bot) in &plus {
        chat += 1;
        let b = bot.as_deref().map(lit).unwrap_or_else(|| "NULL".into());
        for _ in 0..2 {
            // A chat that types /start again gets a second run.
            out.push(w(
                "start a course",
                format!(
                    "INSERT INTO run (course_id, username, chat_id, botname, utm_source, utm_campaign)
                     VALUES ({}, 'u{chat}', {chat}, {b}, 'replay', NULL) RETURNING run_id",
                    lit(course)
                ),
            ));
        }
        starts.push((chat, course.clone(), b.clone()));
        for (i, role) in ["assistant", "user"].iter().enumerate() {
            out.push(w(
                "every message",
                format!(
                    "INSERT INTO conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role, report, score, maxscore)
                     VALUES ({chat}, {c}, 'u{chat}', 'e{i}', 'message',
                             (SELECT run_id FROM run WHERE chat_id = {chat} AND course_id = {c} ORDER BY date_inserted DESC, run_id DESC LIMIT 1),
                             '{{\"n\": {i}}}', '{role}', NULL, 1, 2) RETURNING conversation_id",
                    c = lit(course)
                ),
            ));
        }
        out.push(w(
            "a delay",
            format!(
                "INSERT INTO waiting_element (chat_id, waiting_till_date, is_waiting, element_id, course_id, botname)
                 VALUES ({chat}, '2024-01-10', TRUE, 'e1', {}, {b}) RETURNING waiting_element_id",
                lit(course)
            ),
        ));
        out.push(w(
            "a delay done",
            format!("UPDATE waiting_element SET is_waiting = FALSE WHERE waiting_element_id = (SELECT max(waiting_element_id) FROM waiting_element WHERE chat_id = {chat})"),
        ));
    }
    // Messages on a run deleted long ago, and on none.
    out.push(w(
        "every message",
        "INSERT INTO conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role, report, score, maxscore)
         VALUES (999, 'intro', 'ghost', 'e9', 'message', 5000, '{}', 'user', NULL, 0, 1) RETURNING conversation_id".into(),
    ));
    out.push(w(
        "every message",
        "INSERT INTO conversation (chat_id, course_id, username, element_id, element_type, run_id, json, role, report, score, maxscore)
         VALUES (998, NULL, 'нет «run»', 'e9', 'message', NULL, '{}', 'user', NULL, NULL, NULL) RETURNING conversation_id".into(),
    ));
    // Course ends: with and without the course, on every copy.
    for (i, (chat, course, b)) in starts.iter().enumerate() {
        let sql = if i % 2 == 0 {
            format!("UPDATE run SET is_ended = TRUE WHERE chat_id = {chat} AND botname = {b} AND course_id = {}", lit(course))
        } else {
            format!("UPDATE run SET is_ended = TRUE WHERE chat_id = {chat} AND botname = {b}")
        };
        out.push(w("course end", sql));
    }
    for (course, bot) in courses {
        out.push(w(
            "course end",
            format!("UPDATE run SET is_ended = TRUE WHERE botname = {} AND course_id = {} AND chat_id IN (SELECT min(chat_id) FROM run)", lit(bot), lit(course)),
        ));
    }
    // Auto-bans, twice each (the second finds them banned).
    for bot in bots {
        for _ in 0..2 {
            out.push(w(
                "auto-ban",
                format!(
                    "INSERT INTO bannedparticipants (botname, chat_id, ban_reason)
                     SELECT {b}, chat_id, 'flood' FROM (SELECT r.chat_id, count(*) AS n FROM conversation c JOIN run r ON r.run_id = c.run_id
                                                         WHERE r.botname = {b} AND c.role = 'user' GROUP BY r.chat_id) x
                      WHERE x.n >= 1 AND chat_id NOT IN (SELECT chat_id FROM bannedparticipants WHERE botname = {b} AND chat_id IS NOT NULL)",
                    b = lit(bot)
                ),
            ));
        }
    }
    // Publishing: every (course, bot) copy, a course known only from references, a new one.
    let mut publish: Vec<(String, String)> = courses.to_vec();
    publish.push(("yaml_only_course_started_now".into(), default_bot.to_string()));
    publish.push(("brand_new_course".into(), "brand_new_bot".into()));
    publish.push(("published «now»".into(), bots[0].clone()));
    for (n, (course, bot)) in publish.iter().enumerate() {
        let (cc, b) = (lit(course), lit(bot));
        out.push(w("publish: delete elements", format!("DELETE FROM course_element WHERE course_id = {cc} AND bot_name = {b}")));
        out.push(w("publish: delete course", format!("DELETE FROM course WHERE course_id = {cc} AND bot_name = {b}")));
        out.push(w(
            "publish: insert course",
            format!("INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ({cc}, {b}, 77, 'published {n}')"),
        ));
        for e in ["m1_a", "m1_b", "m2_a"] {
            out.push(w(
                "publish: insert element",
                format!(
                    "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type)
                     VALUES ({b}, {cc}, '{e}', '{{\"v\": {n}}}', 'message') RETURNING course_element_id"
                ),
            ));
        }
        // Publishing twice without deleting first fails on the legacy key, alike.
        if n == 0 {
            out.push(w(
                "publish: insert course again",
                format!("INSERT INTO course (course_id, bot_name, creator_id, yaml) VALUES ({cc}, {b}, 77, 'again')"),
            ));
        }
    }
    // A run and messages on a course after it was published by its bot.
    if let Some((course, bot)) = courses.first() {
        out.push(w(
            "start a course",
            format!("INSERT INTO run (course_id, username, chat_id, botname, utm_source, utm_campaign) VALUES ({}, 'late', 7100000, {}, NULL, NULL) RETURNING run_id", lit(course), lit(bot)),
        ));
    }
    // Removing courses: the two deletes, once with the bot, once without it.
    if let Some((course, bot)) = courses.last() {
        out.push(w("remove: delete elements", format!("DELETE FROM course_element WHERE course_id = {} AND bot_name = {}", lit(course), lit(bot))));
        out.push(w("remove: delete course", format!("DELETE FROM course WHERE course_id = {} AND bot_name = {}", lit(course), lit(bot))));
    }
    out.push(w("remove: delete elements", "DELETE FROM course_element WHERE course_id = 'published «now»'".into()));
    out.push(w("remove: delete course", "DELETE FROM course WHERE course_id = 'published «now»'".into()));
    out
}
