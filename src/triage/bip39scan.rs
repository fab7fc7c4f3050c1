//! BIP39 seed-phrase detection over a stream of text tokens.
//!
//! Owns the run tracking: consecutive English BIP39 words (small numbers such as those of
//! a numbered list are transparent) form a run; windows of 24, 21, 18, 15 or 12 words in a
//! run are accepted only when their BIP39 checksum is valid (the `bip39` crate, which
//! embeds the official English word list). Runs longer than [`MAX_FREE_RUN`] words are a
//! word list or many phrases: they are then checked line by line only (a phrase must be
//! alone on its line), so a dictionary file does not produce hundreds of chance matches
//! (a 12-word window passes the 4-bit checksum by chance 1 time in 16). Memory is bounded
//! by [`MAX_FREE_RUN`] words.
//!
//! Must never report a window whose checksum fails, never hold more than [`MAX_FREE_RUN`]
//! words, and never read anything but the tokens it is given; the phrase it returns is
//! evidence, not a title.

use std::sync::OnceLock;

/// Longest run searched as a whole (four 24-word phrases back to back).
pub const MAX_FREE_RUN: usize = 96;
/// Other BIP39 words allowed on a phrase's line, before and after it together (a label
/// such as "seed phrase:" is made of BIP39 words). Kept below 3 on purpose: phrase
/// lengths differ by multiples of 3, so a mistyped phrase never yields a shorter chance
/// window that fits.
pub const LABEL_SLACK: usize = 2;
/// Valid phrase lengths, longest first (longer windows are preferred).
const LENGTHS: [usize; 5] = [24, 21, 18, 15, 12];

/// A word of the run: its index in the word list, where it starts and on which line.
#[derive(Debug, Clone, Copy)]
struct Word {
    index: u16,
    offset: u64,
    line: u64,
    case: Case,
}

/// How a word is capitalised. A written phrase keeps one style ("abandon ability …",
/// "ABANDON …", "Abandon ability …"); code mixing `red`, `Red` and `RED` does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Lower,
    Upper,
    Title,
    Mixed,
}

impl Case {
    pub fn of(token: &[u8]) -> Case {
        let upper = token.iter().filter(|b| b.is_ascii_uppercase()).count();
        match upper {
            0 => Case::Lower,
            n if n == token.len() => Case::Upper,
            1 if token[0].is_ascii_uppercase() => Case::Title,
            _ => Case::Mixed,
        }
    }
}

/// True when a window's words share one capitalisation style (a capitalised first word
/// followed by lower-case ones counts as one style).
fn consistent_case(window: &[Word]) -> bool {
    let Some(first) = window.first() else {
        return false;
    };
    let rest = &window[1..];
    match first.case {
        Case::Lower => rest.iter().all(|w| w.case == Case::Lower),
        Case::Upper => rest.iter().all(|w| w.case == Case::Upper),
        Case::Title => {
            rest.iter().all(|w| w.case == Case::Lower) || rest.iter().all(|w| w.case == Case::Title)
        }
        Case::Mixed => false,
    }
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

/// Open-addressing table from packed word (see [`pack`]) to BIP39 index: every token
/// of 3–8 letters of every text file is looked up, so this must cost a multiply and a
/// probe or two, not a binary search.
struct WordTable {
    slots: Vec<(u64, u16)>,
}

const TABLE_BITS: u32 = 13;

impl WordTable {
    fn slot(key: u64) -> usize {
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - TABLE_BITS)) as usize
    }

    fn build() -> WordTable {
        let mut slots = vec![(0u64, 0u16); 1 << TABLE_BITS];
        for (index, word) in english().iter().enumerate() {
            let key = pack(word.as_bytes());
            let mut at = Self::slot(key);
            while slots[at].0 != 0 {
                at = (at + 1) & ((1 << TABLE_BITS) - 1);
            }
            slots[at] = (key, index as u16);
        }
        WordTable { slots }
    }

    fn get(&self, key: u64) -> Option<u16> {
        let mut at = Self::slot(key);
        loop {
            let (k, index) = self.slots[at];
            if k == key {
                return Some(index);
            }
            if k == 0 {
                return None;
            }
            at = (at + 1) & ((1 << TABLE_BITS) - 1);
        }
    }
}

fn table() -> &'static WordTable {
    static TABLE: OnceLock<WordTable> = OnceLock::new();
    TABLE.get_or_init(WordTable::build)
}

/// Packs a word of at most 8 ASCII letters, lower-cased, into a big-endian u64 (zero
/// padded, so no word packs to 0).
fn pack(word: &[u8]) -> u64 {
    let mut key = [0u8; 8];
    let len = word.len().min(8);
    key[..len].copy_from_slice(&word[..len]);
    // Setting bit 5 lower-cases ASCII letters; the padding stays zero.
    let mask = u64::MAX.checked_shl(8 * (8 - len) as u32).unwrap_or(0) & 0x2020_2020_2020_2020;
    u64::from_be_bytes(key) | mask
}

/// The BIP39 index of a token (case-insensitive), if it is an English BIP39 word.
pub fn word_index(token: &[u8]) -> Option<u16> {
    if !(3..=8).contains(&token.len()) || !token.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    table().get(pack(token))
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

    pub fn word(&mut self, index: u16, offset: u64, line: u64, case: Case) {
        let word = Word {
            index,
            offset,
            line,
            case,
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
        } else if self.run.len() >= 12 {
            let words = std::mem::take(&mut self.run);
            self.search(&words);
        }
        self.run.clear();
        self.run_total = 0;
        self.run_start = None;
        self.line_mode = false;
        self.line_overflow = false;
    }

    /// Picks checksum-valid windows in a run. Chance windows exist (1 in 16 for 12
    /// words), so a window must be bounded the way people write phrases: each end at an
    /// edge of the run, at a blank or separator line, or at a line break when that line
    /// holds several words (one word per line says nothing about where a phrase starts);
    /// up to [`LABEL_SLACK`] other BIP39 words may stand beside it on its line ("seed
    /// phrase: …"). When valid windows overlap, the longest wins, then the one with the
    /// fewest such words, then the one ending exactly (labels come first), then the
    /// earliest.
    fn search(&mut self, words: &[Word]) {
        let n = words.len();
        if n < LENGTHS[LENGTHS.len() - 1] {
            return;
        }
        let words_on_line = |line: u64| words.iter().filter(|w| w.line == line).count();
        let boundary = |before: usize, after: usize, side_line: u64| {
            let gap = words[after].line > words[before].line + 1;
            let break_with_words =
                words[after].line != words[before].line && words_on_line(side_line) >= 2;
            gap || break_with_words
        };
        let clean_start: Vec<bool> = (0..n)
            .map(|i| i == 0 || boundary(i - 1, i, words[i].line))
            .collect();
        let clean_end: Vec<bool> = (0..=n)
            .map(|e| e == 0 || e == n || boundary(e - 1, e, words[e - 1].line))
            .collect();
        // Words between a window edge and the nearest clean point on the same line.
        let start_slack = |i: usize| {
            (0..=LABEL_SLACK)
                .take_while(|&k| k <= i && words[i - k].line == words[i].line)
                .find(|&k| clean_start[i - k])
        };
        let end_slack = |e: usize| {
            (0..=LABEL_SLACK)
                .take_while(|&k| e + k <= n && words[e + k - 1].line == words[e - 1].line)
                .find(|&k| clean_end[e + k])
        };
        let mut candidates = Vec::new();
        for start in 0..n {
            let Some(before) = start_slack(start) else {
                continue;
            };
            for len in LENGTHS {
                let end = start + len;
                if end > n {
                    continue;
                }
                let Some(after) = end_slack(end) else {
                    continue;
                };
                if before + after > LABEL_SLACK {
                    continue;
                }
                if !consistent_case(&words[start..end]) {
                    continue;
                }
                let indices: Vec<u16> = words[start..end].iter().map(|w| w.index).collect();
                if checksum_valid(&indices) {
                    // Fewest stray words first; then labels before rather than after.
                    let score = 2 * (LABEL_SLACK - (before + after)) + usize::from(after == 0);
                    candidates.push((len, score, start));
                }
            }
        }
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut taken = vec![false; words.len()];
        let mut chosen = Vec::new();
        for (len, _, start) in candidates {
            if taken[start..start + len].iter().any(|&t| t) {
                continue;
            }
            taken[start..start + len].iter_mut().for_each(|t| *t = true);
            chosen.push((start, len));
        }
        chosen.sort_unstable();
        for (start, len) in chosen {
            let window = &words[start..start + len];
            if self.hits.len() < self.max_hits {
                self.hits.push(SeedHit {
                    words: window.iter().map(|w| w.index).collect(),
                    offset: window[0].offset,
                    line: window[0].line,
                    end_line: window[len - 1].line,
                });
            } else {
                self.dropped_hits += 1;
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
        let mut offset = 0u64;
        for (line, l) in (1..).zip(text.split('\n')) {
            for w in l.split(' ') {
                if let Some(i) = word_index(w.as_bytes()) {
                    tracker.word(i, offset, line, Case::of(w.as_bytes()));
                } else if !w.is_empty() {
                    tracker.breaker();
                }
                offset += w.len() as u64 + 1;
            }
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
    fn a_label_of_bip39_words_before_the_phrase_does_not_shift_it() {
        // "seed", "phrase" and "next" are BIP39 words; the phrase ends its line.
        let legal = "legal winner thank year wave sausage worth useful legal winner thank yellow";
        for prefix in ["seed phrase", "next seed", "phrase", "key word"] {
            let mut t = SeedTracker::new(10);
            feed(&mut t, &format!("{prefix} {legal}\nthe end"));
            assert_eq!(t.hits.len(), 1, "{prefix}");
            assert_eq!(t.hits[0].phrase(), legal, "{prefix}");
        }
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
    fn code_that_mixes_capitalisation_is_not_a_phrase() {
        // llvm's StringSwitch.h documents `.Case("red", Red)`-style lines: BIP39 words,
        // several per line, in mixed case. The same words in one style are checked.
        let legal = "legal winner thank year wave sausage worth useful legal winner thank yellow";
        let mixed: Vec<String> = legal
            .split(' ')
            .enumerate()
            .map(|(i, w)| {
                if i % 2 == 1 {
                    w[..1].to_uppercase() + &w[1..]
                } else {
                    w.to_string()
                }
            })
            .collect();
        let mut t = SeedTracker::new(10);
        feed(&mut t, &mixed.join(" "));
        assert!(t.hits.is_empty());
        for styled in [legal.to_uppercase(), format!("L{}", &legal[1..])] {
            let mut t = SeedTracker::new(10);
            feed(&mut t, &styled);
            assert_eq!(t.hits.len(), 1, "{styled}");
        }
    }

    #[test]
    fn word_lookup_is_case_insensitive_and_exact() {
        assert_eq!(word_index(b"abandon"), Some(0));
        assert_eq!(word_index(b"Zoo"), Some(2047));
        assert_eq!(word_index(b"abandons"), None);
        assert_eq!(word_index(b"the"), None);
    }
}
