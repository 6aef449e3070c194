//! A streaming exec, as `kubectl exec` does it: the URL the CRI Exec call returns, opened as a
//! WebSocket speaking Kubernetes' channel protocol (each message's first byte names the
//! stream: 1 stdout, 2 stderr, 3 the final status as JSON).

use std::io::ErrorKind;

use anyhow::{bail, Context, Result};
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

/// What came back on stdout and the final status line.
pub struct Streamed {
    pub stdout: String,
    pub status: String,
}

pub fn exec(url: &str) -> Result<Streamed> {
    let ws_url = url.replacen("http://", "ws://", 1);
    let mut request = ws_url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "v4.channel.k8s.io".parse()?);
    let (mut socket, _) =
        tungstenite::connect(request).with_context(|| format!("connecting to {ws_url}"))?;
    let mut out = Streamed {
        stdout: String::new(),
        status: String::new(),
    };
    loop {
        match socket.read() {
            Ok(Message::Binary(data)) if !data.is_empty() => {
                let text = String::from_utf8_lossy(&data[1..]).into_owned();
                match data[0] {
                    1 => out.stdout.push_str(&text),
                    3 => out.status.push_str(&text),
                    _ => {}
                }
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) => bail!("reading the stream: {e}"),
        }
    }
    Ok(out)
}
