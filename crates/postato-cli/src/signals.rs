//! The signals that stop a command: Ctrl-C (SIGINT), and what a service manager sends, SIGTERM
//! (`docker stop`, systemd) and SIGHUP (a closed terminal). Each is listened for from
//! [`StopSignals::listen`] on, and answered with the conventional exit code, 128 + its number.

/// A signal that stops a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C: exit 130.
    Interrupt,
    /// SIGTERM: exit 143.
    Terminate,
    /// SIGHUP: exit 129.
    Hangup,
}

impl StopSignal {
    /// Its name, as `kill -l` spells it.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }

    /// The exit code of a command it stopped: 128 + the signal's number, as shells report it.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Interrupt => crate::exit::INTERRUPTED,
            StopSignal::Terminate => 128 + 15,
            StopSignal::Hangup => 128 + 1,
        }
    }
}

/// The stop signals, listened for from [`StopSignals::listen`] on: each one received is
/// answered by [`StopSignals::next`] instead of ending the process.
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Starts listening (inside a tokio runtime). A signal that cannot be listened for keeps
    /// its default action, and one ignored when the command started stays ignored: `nohup
    /// postato batch … &` goes on when its terminal closes.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind| (!ignored(kind.as_raw_value())).then(|| signal(kind).ok()).flatten();
            StopSignals {
                interrupt: listen(SignalKind::interrupt()),
                terminate: listen(SignalKind::terminate()),
                hangup: listen(SignalKind::hangup()),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// The next stop signal received.
    pub async fn next(&mut self) -> StopSignal {
        #[cfg(unix)]
        {
            async fn received(stream: &mut Option<tokio::signal::unix::Signal>) {
                let delivered = match stream {
                    Some(stream) => stream.recv().await.is_some(),
                    None => false,
                };
                if !delivered {
                    std::future::pending::<()>().await;
                }
            }
            tokio::select! {
                _ = received(&mut self.interrupt) => StopSignal::Interrupt,
                _ = received(&mut self.terminate) => StopSignal::Terminate,
                _ = received(&mut self.hangup) => StopSignal::Hangup,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => StopSignal::Interrupt,
                Err(_) => std::future::pending().await,
            }
        }
    }
}

/// Whether `signal` is ignored (`SIG_IGN`), as `nohup` leaves SIGHUP for the command it starts.
#[cfg(unix)]
fn ignored(signal: i32) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into `current`.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0 && current.sa_sigaction == libc::SIG_IGN
    }
}
