//! BIP39 seed-phrase detection over a stream of text tokens.
//!
//! Owns the run tracking: consecutive English BIP39 words (small numbers such as those of
//! a numbered list are transparent) form a run; windows of 24, 21, 18, 15 or 12 words in a
//! run are accepted only when their BIP39 checksum is valid (the `bip39` crate, which
//! embeds the official English word list). Runs longer than [`MAX_FREE_RUN`] words are a
//! word list or many phrases: they are then checked line by line only, so a dictionary
//! file does not produce thousands of chance matches (a 12-word window passes the 4-bit
//! checksum by chance 1 time in 16). Memory is bounded by [`MAX_FREE_RUN`] words.

use std::sync::OnceLock;

/// Longest run searched as a whole (two 24-word phrases back to back).
pub const MAX_FREE_RUN: usize = 48;
/// Valid phrase lengths, longest first (longer windows are preferred).
const LENGTHS: [usize; 5] = [24, 21, 18, 15, 12];

/// A word of the run: its index in the word list, where it starts and on which line.
#[derive(Debug, Clone, Copy)]
struct Word {
    index: u16,
    offset: u64,
    line: u64,
}

/// A checksum-valid phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedHit {
    pub words: Vec<u16>,
    pub offset: u64,
    pub line: u64,
    pub end_line: u64,
}

impl SeedHit {
    /// The phrase as text (evidence only; never a title).
    pub fn phrase(&self) -> String {
        let list = english();
        self.words
            .iter()
            .map(|&i| list[i as usize])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A run too long to be one phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongRun {
    pub offset: u64,
    pub line: u64,
    pub words: u64,
}

fn english() -> &'static [&'static str; 2048] {
    bip39::Language::English.word_list()
}

/// The English word list packed as big-endian u64 keys (words are 3–8 ASCII letters), in
/// list order, which is also sorted order: binary search gives the BIP39 index.
fn keys() -> &'static [u64] {
    static KEYS: OnceLock<Vec<u64>> = OnceLock::new();
    KEYS.get_or_init(|| english().iter().map(|w| pack(w.as_bytes())).collect())
}

fn pack(word: &[u8]) -> u64 {
    let mut key = [0u8; 8];
    for (k, b) in key.iter_mut().zip(word) {
        *k = b.to_ascii_lowercase();
    }
    u64::from_be_bytes(key)
}

/// The BIP39 index of a token (case-insensitive), if it is an English BIP39 word.
pub fn word_index(token: &[u8]) -> Option<u16> {
    if !(3..=8).contains(&token.len()) || !token.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    keys().binary_search(&pack(token)).ok().map(|i| i as u16)
}

/// Checks the BIP39 checksum of a sequence of word indices (12–24 words, multiple of 3).
pub fn checksum_valid(words: &[u16]) -> bool {
    if !LENGTHS.contains(&words.len()) {
        return false;
    }
    let list = english();
    let phrase = words
        .iter()
        .map(|&i| list[i as usize])
        .collect::<Vec<_>>()
        .join(" ");
    bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &phrase).is_ok()
}

#[derive(Debug, Default)]
pub struct SeedTracker {
    run: Vec<Word>,
    /// Words in the current run, including those already evaluated in line mode.
    run_total: u64,
    run_start: Option<(u64, u64)>,
    /// The current run outgrew MAX_FREE_RUN: evaluate it line by line.
    line_mode: bool,
    line_overflow: bool,
    pub hits: Vec<SeedHit>,
    pub long_runs: Vec<LongRun>,
    pub max_hits: usize,
    pub dropped_hits: u64,
}

impl SeedTracker {
    pub fn new(max_hits: usize) -> SeedTracker {
        SeedTracker {
            max_hits,
            ..SeedTracker::default()
        }
    }

    pub fn word(&mut self, index: u16, offset: u64, line: u64) {
        let word = Word {
            index,
            offset,
            line,
        };
        if self.run_start.is_none() {
            self.run_start = Some((offset, line));
        }
        self.run_total += 1;
        if !self.line_mode && self.run.len() >= MAX_FREE_RUN {
            self.line_mode = true;
            // Evaluate the complete lines gathered so far; keep the current line.
            let keep_from = self
                .run
                .iter()
                .position(|w| w.line == line)
                .unwrap_or(self.run.len());
            let done: Vec<Word> = self.run.drain(..keep_from).collect();
            for line_words in split_lines(&done) {
                self.search(line_words);
            }
        }
        if self.line_mode {
            if self.run.last().is_some_and(|w| w.line != line) {
                self.end_line();
            }
            if self.run.len() >= MAX_FREE_RUN {
                self.line_overflow = true;
                return;
            }
        }
        self.run.push(word);
    }

    fn end_line(&mut self) {
        let words = std::mem::take(&mut self.run);
        if !self.line_overflow {
            self.search(&words);
        }
        self.line_overflow = false;
    }

    /// A token that is neither a word nor transparent ends the run.
    pub fn breaker(&mut self) {
        if self.line_mode {
            self.end_line();
            if let Some((offset, line)) = self.run_start {
                self.long_runs.push(LongRun {
                    offset,
                    line,
                    words: self.run_total,
                });
            }
        } else {
            let words = std::mem::take(&mut self.run);
            self.search(&words);
        }
        self.run.clear();
        self.run_total = 0;
        self.run_start = None;
        self.line_mode = false;
        self.line_overflow = false;
    }

    /// Greedy left-to-right search for checksum-valid windows, longest first.
    fn search(&mut self, words: &[Word]) {
        let mut i = 0;
        while i + 12 <= words.len() {
            let mut advanced = false;
            for len in LENGTHS {
                if i + len > words.len() {
                    continue;
                }
                let window = &words[i..i + len];
                let indices: Vec<u16> = window.iter().map(|w| w.index).collect();
                if checksum_valid(&indices) {
                    if self.hits.len() < self.max_hits {
                        self.hits.push(SeedHit {
                            words: indices,
                            offset: window[0].offset,
                            line: window[0].line,
                            end_line: window[len - 1].line,
                        });
                    } else {
                        self.dropped_hits += 1;
                    }
                    i += len;
                    advanced = true;
                    break;
                }
            }
            if !advanced {
                i += 1;
            }
        }
    }
}

fn split_lines(words: &[Word]) -> Vec<&[Word]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=words.len() {
        if i == words.len() || words[i].line != words[start].line {
            out.push(&words[start..i]);
            start = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(tracker: &mut SeedTracker, text: &str) {
        let mut line = 1;
        let mut offset = 0u64;
        for l in text.split('\n') {
            for w in l.split(' ') {
                if let Some(i) = word_index(w.as_bytes()) {
                    tracker.word(i, offset, line);
                } else if !w.is_empty() {
                    tracker.breaker();
                }
                offset += w.len() as u64 + 1;
            }
            line += 1;
        }
        tracker.breaker();
    }

    #[test]
    fn the_all_abandon_vector_is_found_once() {
        let mut t = SeedTracker::new(10);
        feed(
            &mut t,
            "my seed: abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about end",
        );
        assert_eq!(t.hits.len(), 1);
        assert_eq!(t.hits[0].words.len(), 12);
        assert_eq!(t.hits[0].offset, 9);
    }

    #[test]
    fn the_whole_word_list_is_a_long_run_not_thousands_of_seeds() {
        let mut t = SeedTracker::new(1000);
        let list = english().join("\n");
        feed(&mut t, &list);
        assert!(t.hits.is_empty(), "{} chance hits", t.hits.len());
        assert_eq!(t.long_runs.len(), 1);
        assert_eq!(t.long_runs[0].words, 2048);
    }

    #[test]
    fn word_lookup_is_case_insensitive_and_exact() {
        assert_eq!(word_index(b"abandon"), Some(0));
        assert_eq!(word_index(b"Zoo"), Some(2047));
        assert_eq!(word_index(b"abandons"), None);
        assert_eq!(word_index(b"the"), None);
    }
}
