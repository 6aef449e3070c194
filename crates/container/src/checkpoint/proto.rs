//! The few messages of CRIU's RPC (criu/images/rpc.proto, proto2) that husk sends and reads,
//! encoded by hand: a request is a handful of varints and strings, and a response is read
//! for the fields husk uses, the others skipped by their wire type. See docs/checkpoint.md
//! for why this is not the rust-criu crate.

/// criu_req_type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReqType {
    Dump = 1,
    Restore = 2,
    PreDump = 4,
    Notify = 6,
    FeatureCheck = 9,
    Version = 10,
}

impl ReqType {
    fn from_wire(n: u64) -> Option<ReqType> {
        Some(match n {
            1 => ReqType::Dump,
            2 => ReqType::Restore,
            4 => ReqType::PreDump,
            6 => ReqType::Notify,
            9 => ReqType::FeatureCheck,
            10 => ReqType::Version,
            _ => return None,
        })
    }
}

/// A message being encoded: fields appended in any order, as proto2 allows.
#[derive(Debug, Default, Clone)]
pub struct Message(Vec<u8>);

const VARINT: u64 = 0;
const LEN: u64 = 2;

impl Message {
    pub fn new() -> Message {
        Message::default()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn key(&mut self, field: u32, wire: u64) {
        put_varint(&mut self.0, (u64::from(field) << 3) | wire);
    }

    /// int32: a negative value is sign-extended to ten bytes, as protobuf does.
    pub fn int32(&mut self, field: u32, v: i32) -> &mut Self {
        self.key(field, VARINT);
        put_varint(&mut self.0, i64::from(v) as u64);
        self
    }

    pub fn uint32(&mut self, field: u32, v: u32) -> &mut Self {
        self.key(field, VARINT);
        put_varint(&mut self.0, u64::from(v));
        self
    }

    pub fn bool(&mut self, field: u32, v: bool) -> &mut Self {
        self.key(field, VARINT);
        put_varint(&mut self.0, u64::from(v));
        self
    }

    pub fn string(&mut self, field: u32, v: &str) -> &mut Self {
        self.bytes_field(field, v.as_bytes())
    }

    pub fn message(&mut self, field: u32, m: &Message) -> &mut Self {
        self.bytes_field(field, &m.0)
    }

    fn bytes_field(&mut self, field: u32, v: &[u8]) -> &mut Self {
        self.key(field, LEN);
        put_varint(&mut self.0, v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// What CRIU answered (criu_resp), the fields husk reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Response {
    pub kind: Option<ReqType>,
    pub success: bool,
    pub cr_errno: Option<i32>,
    pub cr_errmsg: Option<String>,
    /// criu_notify: the script's name and the pid it is about.
    pub notify_script: Option<String>,
    pub notify_pid: Option<i32>,
    /// criu_restore_resp.pid.
    pub restored_pid: Option<i32>,
    /// criu_features.
    pub mem_track: Option<bool>,
    pub lazy_pages: Option<bool>,
    /// criu_version: major * 10000 + minor * 100 + sublevel, as runc compares it.
    pub version: Option<u32>,
}

/// A malformed response.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a malformed response from CRIU: {0}")]
pub struct DecodeError(&'static str);

impl Response {
    pub fn decode(buf: &[u8]) -> Result<Response, DecodeError> {
        let mut r = Response::default();
        for field in Fields::new(buf) {
            match field? {
                (1, Value::Varint(v)) => r.kind = ReqType::from_wire(v),
                (2, Value::Varint(v)) => r.success = v != 0,
                (4, Value::Bytes(b)) => r.restored_pid = first_int(b, 1)?,
                (5, Value::Bytes(b)) => r.decode_notify(b)?,
                (7, Value::Varint(v)) => r.cr_errno = Some(v as i32),
                (8, Value::Bytes(b)) => r.decode_features(b)?,
                (9, Value::Bytes(b)) => r.cr_errmsg = Some(String::from_utf8_lossy(b).into()),
                (10, Value::Bytes(b)) => r.version = Some(decode_version(b)?),
                _ => {}
            }
        }
        Ok(r)
    }

    fn decode_notify(&mut self, buf: &[u8]) -> Result<(), DecodeError> {
        for field in Fields::new(buf) {
            match field? {
                (1, Value::Bytes(b)) => {
                    self.notify_script = Some(String::from_utf8_lossy(b).into())
                }
                (2, Value::Varint(v)) => self.notify_pid = Some(v as i32),
                _ => {}
            }
        }
        Ok(())
    }

    fn decode_features(&mut self, buf: &[u8]) -> Result<(), DecodeError> {
        for field in Fields::new(buf) {
            match field? {
                (1, Value::Varint(v)) => self.mem_track = Some(v != 0),
                (2, Value::Varint(v)) => self.lazy_pages = Some(v != 0),
                _ => {}
            }
        }
        Ok(())
    }
}

fn decode_version(buf: &[u8]) -> Result<u32, DecodeError> {
    let (mut major, mut minor, mut sub) = (0u64, 0u64, 0u64);
    for field in Fields::new(buf) {
        match field? {
            (1, Value::Varint(v)) => major = v,
            (2, Value::Varint(v)) => minor = v,
            (4, Value::Varint(v)) => sub = v,
            _ => {}
        }
    }
    Ok((major * 10000 + minor * 100 + sub) as u32)
}

fn first_int(buf: &[u8], wanted: u32) -> Result<Option<i32>, DecodeError> {
    for field in Fields::new(buf) {
        if let (n, Value::Varint(v)) = field? {
            if n == wanted {
                return Ok(Some(v as i32));
            }
        }
    }
    Ok(None)
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of an encoded message, in order.
struct Fields<'a> {
    buf: &'a [u8],
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fields { buf, failed: false }
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for (i, b) in self.buf.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.buf = &self.buf[i + 1..];
                return Ok(v);
            }
        }
        Err(DecodeError("a truncated varint"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError("a field longer than the message"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<(u32, Value<'a>), DecodeError> {
        let key = self.varint()?;
        let number = (key >> 3) as u32;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => self.take(8).map(|_| Value::Fixed)?,
            2 => {
                let n = self.varint()? as usize;
                Value::Bytes(self.take(n)?)
            }
            5 => self.take(4).map(|_| Value::Fixed)?,
            _ => return Err(DecodeError("an unknown wire type")),
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() || self.failed {
            return None;
        }
        let f = self.field();
        self.failed = f.is_err();
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_little_endian_groups_of_seven() {
        let mut m = Message::new();
        m.uint32(1, 300);
        assert_eq!(m.bytes(), &[0x08, 0xac, 0x02]);
    }

    #[test]
    fn negative_int32_takes_ten_bytes() {
        let mut m = Message::new();
        m.int32(1, -1);
        assert_eq!(m.bytes().len(), 11);
        assert_eq!(m.bytes()[10], 0x01);
    }

    #[test]
    fn strings_and_messages_are_length_prefixed() {
        let mut inner = Message::new();
        inner.string(1, "/a").string(2, "/b");
        let mut m = Message::new();
        m.message(23, &inner);
        assert_eq!(
            m.bytes(),
            &[0xba, 0x01, 8, 0x0a, 2, b'/', b'a', 0x12, 2, b'/', b'b']
        );
    }

    #[test]
    fn a_notify_response_decodes() {
        let mut notify = Message::new();
        notify.string(1, "post-restore").int32(2, 4242);
        let mut m = Message::new();
        m.uint32(1, 6).bool(2, true).message(5, &notify);
        let r = Response::decode(m.bytes()).unwrap();
        assert_eq!(r.kind, Some(ReqType::Notify));
        assert!(r.success);
        assert_eq!(r.notify_script.as_deref(), Some("post-restore"));
        assert_eq!(r.notify_pid, Some(4242));
    }

    #[test]
    fn version_and_unknown_fields() {
        let mut v = Message::new();
        v.int32(1, 3).int32(2, 17).string(3, "abc").int32(4, 1);
        let mut m = Message::new();
        m.uint32(1, 10)
            .bool(2, true)
            .message(10, &v)
            .string(99, "later field");
        let r = Response::decode(m.bytes()).unwrap();
        assert_eq!(r.version, Some(31701));
    }

    #[test]
    fn a_failure_carries_errno_and_message() {
        let mut m = Message::new();
        m.uint32(1, 1)
            .bool(2, false)
            .int32(7, 3)
            .string(9, "no such process");
        let r = Response::decode(m.bytes()).unwrap();
        assert!(!r.success);
        assert_eq!(r.cr_errno, Some(3));
        assert_eq!(r.cr_errmsg.as_deref(), Some("no such process"));
    }

    #[test]
    fn truncation_is_an_error() {
        assert!(Response::decode(&[0x08]).is_err());
        assert!(Response::decode(&[0x4a, 5, b'a']).is_err());
    }
}
