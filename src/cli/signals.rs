//! Ctrl-C (SIGINT) and SIGTERM end every command at once, with exit status 130 and a
//! message that says what the interruption left: commands keep that message up to date
//! as they go ([`set_note`]). Prompts read on a thread of their own, so that a signal
//! is never stuck behind a blocking read; a hidden prompt's terminal settings are
//! restored on the way out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// What an interruption leaves when the command has not said otherwise.
pub const DEFAULT_NOTE: &str = "An open transaction is rolled back by the server when the connection closes; \
                                run `profochat-saas status` to see where the database stands.";

static NOTE: Mutex<Option<String>> = Mutex::new(None);
static PROMPT_OPEN: AtomicBool = AtomicBool::new(false);
static SAVED_TERMINAL: Mutex<Option<(i32, libc::termios)>> = Mutex::new(None);

/// Says what an interruption from now on leaves behind (one or two sentences).
pub fn set_note(note: impl Into<String>) {
    *NOTE.lock().unwrap_or_else(|p| p.into_inner()) = Some(note.into());
}

/// Sets what an interruption leaves for as long as `f` runs (a prompt: nothing has
/// changed while it waits), then puts back what was there.
pub async fn with_note<T, F: std::future::Future<Output = T>>(note: impl Into<String>, f: F) -> T {
    let previous = NOTE.lock().unwrap_or_else(|p| p.into_inner()).replace(note.into());
    let out = f.await;
    *NOTE.lock().unwrap_or_else(|p| p.into_inner()) = previous;
    out
}

/// What an interruption now leaves behind.
pub fn note() -> String {
    NOTE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(|| DEFAULT_NOTE.to_string())
}

/// Waits for SIGINT or SIGTERM and names it. Registered before the command starts, so
/// neither signal ever ends the process without the message.
pub struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub fn register() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }

    pub async fn recv(&mut self) -> &'static str {
        async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = one(&mut self.int) => "Ctrl-C (SIGINT)",
            _ = one(&mut self.term) => "SIGTERM",
        }
    }
}

/// The error an interruption ends the command with.
pub fn interrupted(signal: &str) -> profochat_saas::Error {
    profochat_saas::Error::Interrupted {
        signal: signal.to_string(),
        unchanged: note(),
    }
}

/// After an interruption: the terminal as it was before a hidden prompt, and the
/// message on a line of its own after a prompt that was waiting.
pub fn after_interrupt() {
    if let Some((fd, term)) = SAVED_TERMINAL.lock().unwrap_or_else(|p| p.into_inner()).take() {
        unsafe {
            libc::tcsetattr(fd, libc::TCSANOW, &term);
        }
    }
    if PROMPT_OPEN.load(Ordering::SeqCst) {
        eprintln!();
    }
}

/// Reads one line from standard input, or — with `hidden` — asks `hidden` on the
/// terminal and reads without echo. The read runs on a thread of its own: a signal
/// ends the command at once, whatever the read is waiting for.
pub async fn read_line(hidden: Option<String>) -> anyhow::Result<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if hidden.is_some() {
        save_terminal();
    }
    PROMPT_OPEN.store(true, Ordering::SeqCst);
    let hidden_prompt = hidden.is_some();
    std::thread::spawn(move || {
        let r = match hidden {
            Some(prompt) => rpassword::prompt_password(prompt),
            None => {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map(|_| line)
            }
        };
        let _ = tx.send(r);
    });
    let result = rx.await;
    match result {
        Ok(Ok(line)) => {
            PROMPT_OPEN.store(false, Ordering::SeqCst);
            if hidden_prompt {
                SAVED_TERMINAL.lock().unwrap_or_else(|p| p.into_inner()).take();
            }
            Ok(line)
        }
        // Ctrl-C at a hidden prompt: the prompt read it and raised SIGINT, which
        // `cli::main` turns into the interruption; wait for that.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => std::future::pending().await,
        Ok(Err(e)) => {
            PROMPT_OPEN.store(false, Ordering::SeqCst);
            Err(e.into())
        }
        Err(_) => std::future::pending().await,
    }
}

fn save_terminal() {
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return;
    };
    use std::os::fd::IntoRawFd;
    // Kept open for the restore; one descriptor per hidden prompt at most.
    let fd = tty.into_raw_fd();
    let mut term = std::mem::MaybeUninit::<libc::termios>::uninit();
    if unsafe { libc::tcgetattr(fd, term.as_mut_ptr()) } == 0 {
        let term = unsafe { term.assume_init() };
        let old = SAVED_TERMINAL.lock().unwrap_or_else(|p| p.into_inner()).replace((fd, term));
        if let Some((old_fd, _)) = old {
            unsafe {
                libc::close(old_fd);
            }
        }
    } else {
        unsafe {
            libc::close(fd);
        }
    }
}
