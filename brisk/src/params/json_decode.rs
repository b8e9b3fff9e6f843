//! Locating a JSON syntax error exactly as Python's `json` module does.
//!
//! FastAPI answers a malformed body with `loc: ["body", <position>]` and
//! `ctx.error` set to Python's message ("Expecting ',' delimiter", ...).
//! serde_json reports line/column and its own wording, so to give clients the
//! same body we re-scan the (already rejected) input with the grammar walk of
//! CPython's C scanner (`Modules/_json.c`), which only runs on the error path.
//! No crate reproduces CPython's positions and messages, hence this file.
//!
//! The scanner recurses once per nesting level, like CPython's; callers
//! only hand it bodies nested at most 128 deep (see `body::MAX_DEPTH`), so
//! untrusted input cannot run it off the stack.

/// Python's error message and character offset for invalid JSON `text`,
/// or `None` if Python would accept it.
pub(crate) fn python_json_error(text: &str) -> Option<(&'static str, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut scanner = Scanner { s: &chars };
    let start = scanner.skip_ws(0);
    match scanner.value(start) {
        Err(Fail::Stop(pos)) => Some(("Expecting value", pos)),
        Err(Fail::Error(msg, pos)) => Some((msg, pos)),
        Ok(end) => {
            let end = scanner.skip_ws(end);
            (end != chars.len()).then_some(("Extra data", end))
        }
    }
}

enum Fail {
    /// Python's `StopIteration(idx)`: no value starts here.
    Stop(usize),
    /// A `JSONDecodeError(msg, pos)`.
    Error(&'static str, usize),
}

struct Scanner<'a> {
    s: &'a [char],
}

impl Scanner<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(' ' | '\t' | '\n' | '\r')) {
            i += 1;
        }
        i
    }

    fn starts_with(&self, i: usize, word: &str) -> bool {
        word.chars()
            .enumerate()
            .all(|(k, c)| self.at(i + k) == Some(c))
    }

    /// `scan_once`: parses one value at `i`, returns the index after it.
    fn value(&mut self, i: usize) -> Result<usize, Fail> {
        match self.at(i) {
            None => Err(Fail::Stop(i)),
            Some('"') => self.string(i + 1),
            Some('{') => self.object(i + 1),
            Some('[') => self.array(i + 1),
            Some('n') if self.starts_with(i, "null") => Ok(i + 4),
            Some('t') if self.starts_with(i, "true") => Ok(i + 4),
            Some('f') if self.starts_with(i, "false") => Ok(i + 5),
            Some('N') if self.starts_with(i, "NaN") => Ok(i + 3),
            Some('I') if self.starts_with(i, "Infinity") => Ok(i + 8),
            Some('-') if self.starts_with(i, "-Infinity") => Ok(i + 9),
            Some(_) => self.number(i),
        }
    }

    fn number(&self, start: usize) -> Result<usize, Fail> {
        let digit = |i: usize| self.at(i).is_some_and(|c| c.is_ascii_digit());
        let mut i = start;
        if self.at(i) == Some('-') {
            i += 1;
        }
        match self.at(i) {
            Some('1'..='9') => {
                i += 1;
                while digit(i) {
                    i += 1;
                }
            }
            Some('0') => i += 1,
            _ => return Err(Fail::Stop(start)),
        }
        if self.at(i) == Some('.') && digit(i + 1) {
            i += 2;
            while digit(i) {
                i += 1;
            }
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let e_start = i;
            i += 1;
            if matches!(self.at(i), Some('-' | '+')) {
                i += 1;
            }
            while digit(i) {
                i += 1;
            }
            if !digit(i - 1) {
                i = e_start;
            }
        }
        Ok(i)
    }

    /// `scanstring`: `end` is just after the opening quote.
    fn string(&self, end: usize) -> Result<usize, Fail> {
        let begin = end - 1;
        let mut next = end;
        loop {
            let c = loop {
                match self.at(next) {
                    None => return Err(Fail::Error("Unterminated string starting at", begin)),
                    Some(c @ ('"' | '\\')) => break c,
                    Some(c) if (c as u32) <= 0x1f => {
                        return Err(Fail::Error("Invalid control character at", next));
                    }
                    Some(_) => next += 1,
                }
            };
            next += 1;
            if c == '"' {
                return Ok(next);
            }
            match self.at(next) {
                None => return Err(Fail::Error("Unterminated string starting at", begin)),
                Some('u') => {
                    let hex_start = next + 1;
                    let hex_end = hex_start + 4;
                    if hex_end >= self.s.len() {
                        return Err(Fail::Error("Invalid \\uXXXX escape", next));
                    }
                    if !(hex_start..hex_end)
                        .all(|k| self.at(k).is_some_and(|c| c.is_ascii_hexdigit()))
                    {
                        return Err(Fail::Error("Invalid \\uXXXX escape", next));
                    }
                    next = hex_end;
                }
                Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => next += 1,
                Some(_) => return Err(Fail::Error("Invalid \\escape", next - 1)),
            }
        }
    }

    fn object(&mut self, start: usize) -> Result<usize, Fail> {
        let mut i = self.skip_ws(start);
        if self.at(i) == Some('}') {
            return Ok(i + 1);
        }
        loop {
            if self.at(i) != Some('"') {
                return Err(Fail::Error(
                    "Expecting property name enclosed in double quotes",
                    i,
                ));
            }
            i = self.string(i + 1)?;
            i = self.skip_ws(i);
            if self.at(i) != Some(':') {
                return Err(Fail::Error("Expecting ':' delimiter", i));
            }
            i = self.skip_ws(i + 1);
            i = match self.value(i) {
                Err(Fail::Stop(pos)) => return Err(Fail::Error("Expecting value", pos)),
                other => other?,
            };
            i = self.skip_ws(i);
            match self.at(i) {
                Some('}') => return Ok(i + 1),
                Some(',') => i = self.skip_ws(i + 1),
                _ => return Err(Fail::Error("Expecting ',' delimiter", i)),
            }
        }
    }

    fn array(&mut self, start: usize) -> Result<usize, Fail> {
        let mut i = self.skip_ws(start);
        if self.at(i) == Some(']') {
            return Ok(i + 1);
        }
        loop {
            i = match self.value(i) {
                Err(Fail::Stop(pos)) => return Err(Fail::Error("Expecting value", pos)),
                other => other?,
            };
            i = self.skip_ws(i);
            match self.at(i) {
                Some(']') => return Ok(i + 1),
                Some(',') => i = self.skip_ws(i + 1),
                _ => return Err(Fail::Error("Expecting ',' delimiter", i)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::python_json_error;

    #[test]
    fn matches_cpython_positions_and_messages() {
        // Expected values were produced by CPython 3.11's json.loads.
        assert_eq!(
            python_json_error(r#"{"name": "a", "price""#),
            Some(("Expecting ':' delimiter", 21))
        );
        assert_eq!(
            python_json_error(r#"{"name": "a",}"#),
            Some(("Expecting property name enclosed in double quotes", 13))
        );
        assert_eq!(
            python_json_error("{'name': 'a'}"),
            Some(("Expecting property name enclosed in double quotes", 1))
        );
        assert_eq!(python_json_error("hello"), Some(("Expecting value", 0)));
        assert_eq!(
            python_json_error("[1, 2"),
            Some(("Expecting ',' delimiter", 5))
        );
        assert_eq!(python_json_error("{} x"), Some(("Extra data", 3)));
        assert_eq!(python_json_error(r#"{"a": 1}"#), None);
        assert_eq!(python_json_error(""), Some(("Expecting value", 0)));
    }
}
