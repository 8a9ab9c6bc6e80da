//! The unix-socket stream the pool's PostgreSQL connections run on.
//!
//! Why not tokio's `UnixStream`: tokio registers every socket for both read and write
//! readiness (edge-triggered), and a unix stream socket signals "writable" to its writer
//! every time the peer *reads* (the kernel's `unix_write_space` runs on each freed buffer).
//! So each command the gateway sends woke the gateway's worker thread twice: once when
//! PostgreSQL consumed the request (a wasted wake-up and context switch) and once when the
//! reply arrived. Measured on the 2-core dev machine: ~3 voluntary context switches per
//! `find` in the gateway's worker, one of them for nothing.
//!
//! This stream registers the socket for read readiness only. Writes go straight to the
//! non-blocking socket; only when the socket buffer is full (a large insert batch) does a
//! duplicate of the descriptor get registered for write readiness, and it is dropped again
//! once a write succeeds.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

pub struct PgUnixStream {
    /// Registered for read readiness only.
    io: AsyncFd<UnixStream>,
    /// A duplicate descriptor registered for write readiness while a write is blocked.
    write_waiter: Option<AsyncFd<UnixStream>>,
}

impl PgUnixStream {
    /// Connects to the socket at `path` (e.g. `/run/postgresql/.s.PGSQL.5432`).
    pub async fn connect(path: &Path) -> io::Result<PgUnixStream> {
        // tokio's connect waits for the (non-blocking) connect without blocking the worker.
        let stream = tokio::net::UnixStream::connect(path).await?.into_std()?;
        PgUnixStream::from_std(stream)
    }

    fn from_std(stream: UnixStream) -> io::Result<PgUnixStream> {
        stream.set_nonblocking(true)?;
        Ok(PgUnixStream { io: register(stream, Interest::READABLE)?, write_waiter: None })
    }

    /// Waits until the blocked socket accepts more data, then writes.
    fn poll_blocked_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let waiter = match self.write_waiter.take() {
                Some(w) => w,
                None => register(self.io.get_ref().try_clone()?, Interest::WRITABLE)?,
            };
            let waiter = self.write_waiter.insert(waiter);
            let mut guard = ready!(waiter.poll_write_ready(cx))?;
            // try_io clears the readiness only when the write would still block.
            let written = guard.try_io(|fd| write_retrying(fd.get_ref(), buf));
            drop(guard);
            match written {
                Ok(Ok(n)) => {
                    self.write_waiter = None;
                    return Poll::Ready(Ok(n));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Registers a socket with the runtime's reactor for the given readiness only.
#[allow(unsafe_code)]
fn register(stream: UnixStream, interest: Interest) -> io::Result<AsyncFd<UnixStream>> {
    // SAFETY: a std `UnixStream` owns its descriptor: it stays open, and `as_raw_fd` returns
    // the same descriptor, until the stream (owned by the `AsyncFd`) is dropped.
    unsafe { AsyncFd::register_with_interest(stream, interest) }.map_err(io::Error::from)
}

fn write_retrying(mut stream: &UnixStream, buf: &[u8]) -> io::Result<usize> {
    loop {
        match stream.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl AsyncRead for PgUnixStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.io.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let read = guard.try_io(|fd| loop {
                match fd.get_ref().read(unfilled) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => return other,
                }
            });
            match read {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PgUnixStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match write_retrying(this.io.get_ref(), buf) {
            Ok(n) => {
                this.write_waiter = None;
                Poll::Ready(Ok(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => this.poll_blocked_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the socket: nothing is buffered here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.io.get_ref().shutdown(Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A write far larger than the socket buffer completes once the peer drains it, and
    /// every byte arrives in order (the blocked-write path).
    #[tokio::test]
    async fn large_writes_wait_for_the_reader_and_arrive_intact() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut writer = PgUnixStream::from_std(a).unwrap();
        let mut reader = PgUnixStream::from_std(b).unwrap();
        let payload: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let expected = payload.clone();
        let write = tokio::spawn(async move {
            writer.write_all(&payload).await.unwrap();
            writer.shutdown().await.unwrap();
            writer.write_waiter.is_none()
        });
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.unwrap();
        assert!(write.await.unwrap(), "the write-readiness registration is dropped after the write");
        assert_eq!(got.len(), expected.len());
        assert!(got == expected);
    }

    /// Request/reply ping-pong: reads wake on data even though only read readiness is
    /// registered.
    #[tokio::test]
    async fn reads_wake_on_data() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut client = PgUnixStream::from_std(a).unwrap();
        let mut server = PgUnixStream::from_std(b).unwrap();
        let echo = tokio::spawn(async move {
            let mut buf = [0u8; 4];
            for _ in 0..100 {
                server.read_exact(&mut buf).await.unwrap();
                server.write_all(&buf).await.unwrap();
            }
        });
        for i in 0..100u32 {
            client.write_all(&i.to_le_bytes()).await.unwrap();
            let mut buf = [0u8; 4];
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(u32::from_le_bytes(buf), i);
        }
        echo.await.unwrap();
    }
}
