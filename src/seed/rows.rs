//! One struct per legacy table: a row as written, in the column order of
//! [`crate::sql::legacy_columns`]. The same value is written and counted.

use super::copy::CopyBuf;

#[derive(Debug, Clone, Copy)]
pub(crate) struct ConversationRow<'a> {
    pub conversation_id: i64,
    pub chat_id: Option<i64>,
    pub username: Option<&'a str>,
    pub course_id: Option<&'a str>,
    pub element_id: Option<&'a str>,
    pub element_type: Option<&'a str>,
    pub role: Option<&'a str>,
    pub json: Option<&'a str>,
    pub report: Option<&'a str>,
    pub score: Option<f32>,
    pub maxscore: Option<f32>,
    pub date_inserted: Option<i64>,
    pub run_id: Option<i32>,
}

impl ConversationRow<'_> {
    pub fn write(&self, out: &mut CopyBuf) {
        out.int(self.conversation_id);
        out.opt_int(self.chat_id);
        out.opt_text(self.username);
        out.opt_text(self.course_id);
        out.opt_text(self.element_id);
        out.opt_text(self.element_type);
        out.opt_text(self.role);
        out.opt_text(self.json);
        out.opt_text(self.report);
        out.opt_float(self.score);
        out.opt_float(self.maxscore);
        out.opt_timestamp(self.date_inserted);
        out.opt_int(self.run_id.map(i64::from));
        out.end_row();
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RunRow<'a> {
    pub run_id: i32,
    pub chat_id: Option<i64>,
    pub username: Option<&'a str>,
    pub botname: Option<&'a str>,
    pub course_id: Option<&'a str>,
    pub date_inserted: Option<i64>,
    pub utm_source: Option<&'a str>,
    pub utm_campaign: Option<&'a str>,
    pub is_ended: Option<bool>,
}

impl RunRow<'_> {
    pub fn write(&self, out: &mut CopyBuf) {
        out.int(i64::from(self.run_id));
        out.opt_int(self.chat_id);
        out.opt_text(self.username);
        out.opt_text(self.botname);
        out.opt_text(self.course_id);
        out.opt_timestamp(self.date_inserted);
        out.opt_text(self.utm_source);
        out.opt_text(self.utm_campaign);
        out.opt_bool(self.is_ended);
        out.end_row();
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitingRow<'a> {
    pub waiting_element_id: i32,
    pub chat_id: Option<i64>,
    pub waiting_till_date: Option<i64>,
    pub is_waiting: Option<bool>,
    pub element_id: Option<&'a str>,
    pub course_id: Option<&'a str>,
    pub botname: Option<&'a str>,
}

impl WaitingRow<'_> {
    pub fn write(&self, out: &mut CopyBuf) {
        out.int(i64::from(self.waiting_element_id));
        out.opt_int(self.chat_id);
        out.opt_timestamp(self.waiting_till_date);
        out.opt_bool(self.is_waiting);
        out.opt_text(self.element_id);
        out.opt_text(self.course_id);
        out.opt_text(self.botname);
        out.end_row();
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct CourseRow<'a> {
    pub course_id: &'a str,
    pub bot_name: &'a str,
    pub creator_id: Option<i64>,
    pub date_created: Option<i64>,
    pub yaml: Option<&'a str>,
}

impl CourseRow<'_> {
    pub fn write(&self, out: &mut CopyBuf) {
        out.text(self.course_id);
        out.text(self.bot_name);
        out.opt_int(self.creator_id);
        out.opt_timestamp(self.date_created);
        out.opt_text(self.yaml);
        out.end_row();
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ElementRow<'a> {
    pub course_element_id: i64,
    pub element_id: Option<&'a str>,
    pub json: Option<&'a str>,
    pub element_type: Option<&'a str>,
    pub course_id: Option<&'a str>,
    pub bot_name: Option<&'a str>,
}

impl ElementRow<'_> {
    pub fn write(&self, out: &mut CopyBuf) {
        out.int(self.course_element_id);
        out.opt_text(self.element_id);
        out.opt_text(self.json);
        out.opt_text(self.element_type);
        out.opt_text(self.course_id);
        out.opt_text(self.bot_name);
        out.end_row();
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ParticipantRow<'a> {
    pub courseparticipant_id: i32,
    pub course_id: Option<&'a str>,
    pub username: Option<&'a str>,
}

impl ParticipantRow<'_> {
    pub fn write(&self, out: &mut CopyBuf) {
        out.int(i64::from(self.courseparticipant_id));
        out.opt_text(self.course_id);
        out.opt_text(self.username);
        out.end_row();
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct BanRow<'a> {
    pub bannedparticipant_id: i32,
    pub botname: Option<&'a str>,
    pub chat_id: Option<i64>,
    pub banned_at: Option<i64>,
    pub ban_reason: Option<&'a str>,
    pub excluded: Option<i16>,
}

impl BanRow<'_> {
    pub fn write(&self, out: &mut CopyBuf) {
        out.int(i64::from(self.bannedparticipant_id));
        out.opt_text(self.botname);
        out.opt_int(self.chat_id);
        out.opt_timestamp(self.banned_at);
        out.opt_text(self.ban_reason);
        out.opt_int(self.excluded.map(i64::from));
        out.end_row();
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SettingRow<'a> {
    pub id: i32,
    pub bot_name: Option<&'a str>,
    pub s_key: Option<&'a str>,
    pub s_value: Option<&'a str>,
}

impl SettingRow<'_> {
    pub fn write(&self, out: &mut CopyBuf) {
        out.int(i64::from(self.id));
        out.opt_text(self.bot_name);
        out.opt_text(self.s_key);
        out.opt_text(self.s_value);
        out.end_row();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::legacy_columns;

    fn fields(write: impl FnOnce(&mut CopyBuf)) -> usize {
        let mut buf = CopyBuf::with_capacity(256);
        write(&mut buf);
        let bytes = buf.take();
        assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
        bytes.iter().filter(|b| **b == b'\t').count() + 1
    }

    #[test]
    fn every_row_writes_every_column_of_its_table() {
        let c = ConversationRow {
            conversation_id: 1, chat_id: None, username: None, course_id: None, element_id: None, element_type: None,
            role: None, json: None, report: None, score: None, maxscore: None, date_inserted: None, run_id: None,
        };
        assert_eq!(fields(|b| c.write(b)), legacy_columns("conversation").len());
        let r = RunRow {
            run_id: 1, chat_id: None, username: None, botname: None, course_id: None, date_inserted: None,
            utm_source: None, utm_campaign: None, is_ended: None,
        };
        assert_eq!(fields(|b| r.write(b)), legacy_columns("run").len());
        let w = WaitingRow {
            waiting_element_id: 1, chat_id: None, waiting_till_date: None, is_waiting: None, element_id: None,
            course_id: None, botname: None,
        };
        assert_eq!(fields(|b| w.write(b)), legacy_columns("waiting_element").len());
        let co = CourseRow { course_id: "c", bot_name: "b", creator_id: None, date_created: None, yaml: None };
        assert_eq!(fields(|b| co.write(b)), legacy_columns("course").len());
        let e = ElementRow { course_element_id: 1, element_id: None, json: None, element_type: None, course_id: None, bot_name: None };
        assert_eq!(fields(|b| e.write(b)), legacy_columns("course_element").len());
        let p = ParticipantRow { courseparticipant_id: 1, course_id: None, username: None };
        assert_eq!(fields(|b| p.write(b)), legacy_columns("courseparticipants").len());
        let ban = BanRow { bannedparticipant_id: 1, botname: None, chat_id: None, banned_at: None, ban_reason: None, excluded: None };
        assert_eq!(fields(|b| ban.write(b)), legacy_columns("bannedparticipants").len());
        let s = SettingRow { id: 1, bot_name: None, s_key: None, s_value: None };
        assert_eq!(fields(|b| s.write(b)), legacy_columns("gen_settings").len());
    }
}
