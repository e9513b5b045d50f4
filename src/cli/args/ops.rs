//! The commands that operate the migrated database: courses, bots, members, accounts,
//! deployments, tokens, tenant isolation.

use clap::Subcommand;

use super::{ConfirmArgs, ConnArgs, OutputArgs, Role, TokenType};

#[derive(Debug, Subcommand)]
pub enum CourseCommand {
    /// Put the content of the YAML courses that the legacy tables name into the database:
    /// course.yaml, one course_element per element in file order, the courses.yml settings.
    Import {
        #[command(flatten)]
        conn: ConnArgs,
        /// A bot's scripts/<BOT_FOLDER>courses.yml (BOT=FILE when the folder is not named
        /// after the bot). Repeatable.
        #[arg(long = "courses-yml", value_name = "[BOT=]FILE", required = true)]
        courses_yml: Vec<profochat_saas::courses_yml::CoursesYmlArg>,
        /// The bot of a courses.yml in scripts/ itself (default: BOT_NAME, else the only bot).
        #[arg(long, env = "BOT_NAME", hide_env_values = true, value_name = "NAME")]
        default_bot: Option<String>,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
}
#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// List bots (tokens masked).
    List {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Set a bot's Telegram token, read from standard input, --token-env VAR or BOT_API_TOKEN.
    SetToken {
        #[command(flatten)]
        conn: ConnArgs,
        /// The bot whose token is set.
        #[arg(long, value_name = "NAME")]
        bot: String,
        /// Read the token from this environment variable.
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// The account the bot belongs to.
        #[arg(long, value_name = "ID", default_value_t = 1)]
        account: i32,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member (or change the role of an existing one).
    Add {
        #[command(flatten)]
        conn: ConnArgs,
        /// The account to add the member to.
        #[arg(long, value_name = "ID", default_value_t = 1)]
        account: i32,
        /// The member's numeric Telegram user id.
        #[arg(long, value_name = "ID")]
        telegram_user_id: i64,
        /// The member's Telegram username, without '@'.
        #[arg(long, value_name = "NAME")]
        username: Option<String>,
        /// What the member may do in the account.
        #[arg(long, value_enum, default_value_t = Role::Member)]
        role: Role,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List members.
    List {
        #[command(flatten)]
        conn: ConnArgs,
        /// The account whose members are listed.
        #[arg(long, value_name = "ID", default_value_t = 1)]
        account: i32,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Remove a member (the last owner only after a warning, with confirmation or --yes).
    Remove {
        #[command(flatten)]
        conn: ConnArgs,
        /// The account the member is removed from.
        #[arg(long, value_name = "ID", default_value_t = 1)]
        account: i32,
        /// The member's numeric Telegram user id.
        #[arg(long, value_name = "ID")]
        telegram_user_id: i64,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account.
    Create {
        #[command(flatten)]
        conn: ConnArgs,
        /// The account's display name.
        #[arg(long)]
        name: String,
        /// Its unique short name (letters, digits, '-').
        #[arg(long)]
        slug: String,
        /// Its plan.
        #[arg(long, default_value = "free")]
        plan: String,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    /// List deployments.
    List {
        #[command(flatten)]
        conn: ConnArgs,
        /// Only this account's deployments.
        #[arg(long, value_name = "ID")]
        account: Option<i32>,
        /// Only this bot's deployments.
        #[arg(long, value_name = "NAME")]
        bot: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Deploy a course to a bot in an environment.
    Create {
        #[command(flatten)]
        conn: ConnArgs,
        /// The course to deploy.
        #[arg(long, value_name = "COURSE_ID")]
        course: String,
        /// The bot it is deployed to.
        #[arg(long, value_name = "NAME")]
        bot: String,
        /// The account of the course and the bot.
        #[arg(long, value_name = "ID", default_value_t = 1)]
        account: i32,
        /// The environment (prod, staging, ...).
        #[arg(long, default_value = "prod")]
        environment: String,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an enrollment token and print its deep link.
    Create {
        #[command(flatten)]
        conn: ConnArgs,
        /// The deployment (course on a bot) the token enrols into (`deployment list`).
        #[arg(long, value_name = "ID", required_unless_present = "public_for_all")]
        deployment: Option<i32>,
        /// Who the token is for: anyone with the link (public), a group, one person, an external system.
        #[arg(long = "type", value_enum, default_value_t = TokenType::Public)]
        token_type: TokenType,
        /// How many enrolments the token allows (default: unlimited).
        #[arg(long, value_name = "N")]
        max_uses: Option<i32>,
        /// e.g. 30m, 12h, 7d.
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        /// One public token for every active deployment that has none.
        #[arg(long, conflicts_with = "deployment")]
        public_for_all: bool,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List tokens (with deep links).
    List {
        #[command(flatten)]
        conn: ConnArgs,
        /// Only this deployment's tokens.
        #[arg(long, value_name = "ID")]
        deployment: Option<i32>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Revoke a token.
    Revoke {
        #[command(flatten)]
        conn: ConnArgs,
        /// The token's id (`token list` shows it).
        #[arg(value_name = "TOKEN_ID")]
        token_id: i32,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Delete a token (revoke keeps the row); the runs it enrolled stay.
    Delete {
        #[command(flatten)]
        conn: ConnArgs,
        /// The token's id (`token list` shows it).
        #[arg(value_name = "TOKEN_ID")]
        token_id: i32,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
}
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Let ROLE see and write only the rows of the account its transaction names
    /// (SET LOCAL profochat.account_id = N): row-level security on every table with account_id.
    Isolate {
        /// The role the application connects as.
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// Remove the role's isolation instead.
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
}
