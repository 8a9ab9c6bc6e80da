//! MongoDB's `$text` operator: its operand (`{$search, $language, $caseSensitive,
//! $diacriticSensitive}`) and the search string's grammar, as the text index's query parser
//! reads it: whitespace-separated terms (a document matches if it contains any), "quoted
//! phrases" (it must contain every one), and `-` before a term or a phrase (it must contain
//! none). The text index engine (PostgreSQL text search) normalises each word by language.

use bson::{RawBsonRef, RawDocument};
use documentdb_errors::{bail, docdb_error, DocDbResult};

/// MongoDB's text indexes (version 3) ignore diacritics: `é`, `ê` and `e` are one letter.
/// Canonical decomposition with the combining marks dropped.
pub fn fold_diacritics(text: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    if text.is_ascii() {
        return text.to_owned();
    }
    text.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

/// Whether `text` (a document's indexed strings) satisfies `query` with its sensitivity:
/// some term is one of its words, it holds every phrase, and none of the negated terms or
/// phrases; words compare exactly in case with `$caseSensitive` and in diacritics with
/// `$diacriticSensitive` (else folded). The index's language matching (stemming) finds
/// the candidates; a sensitive search then wants the words as written, as MongoDB matches a
/// stemmed term on its exact word when case-sensitive.
pub fn matches_sensitively(text: &str, query: &TextQuery) -> bool {
    let normalize = |s: &str| {
        let s = if query.diacritic_sensitive { s.to_owned() } else { fold_diacritics(s) };
        if query.case_sensitive {
            s
        } else {
            s.to_lowercase()
        }
    };
    let words: Vec<String> = words_of(text).iter().map(|w| normalize(w)).collect();
    let joined = format!(" {} ", words.join(" "));
    let has_word = |t: &str| words.iter().any(|w| *w == normalize(t));
    let has_phrase = |p: &str| joined.contains(&format!(" {} ", words_of(&normalize(p)).join(" ")));
    let s = &query.search;
    (s.terms.is_empty() || s.terms.iter().any(|t| has_word(t)))
        && s.phrases.iter().all(|p| has_phrase(p))
        && !s.negated_terms.iter().any(|t| has_word(t))
        && !s.negated_phrases.iter().any(|p| has_phrase(p))
}

/// A parsed `$search` string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchString {
    /// Terms, any of which a document must contain (phrase words included, as MongoDB).
    pub terms: Vec<String>,
    /// Phrases a document must all contain.
    pub phrases: Vec<String>,
    /// Terms a document must not contain.
    pub negated_terms: Vec<String>,
    /// Phrases a document must not contain.
    pub negated_phrases: Vec<String>,
}

impl SearchString {
    /// Whether nothing can match (no positive term or phrase: MongoDB returns no documents).
    pub fn matches_nothing(&self) -> bool {
        self.terms.is_empty() && self.phrases.is_empty()
    }
}

/// A parsed `$text` operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    pub search: SearchString,
    /// `$language` (None: the index's default language).
    pub language: Option<String>,
    pub case_sensitive: bool,
    pub diacritic_sensitive: bool,
}

/// Parses the operand of `$text`, with MongoDB's errors.
pub fn parse_text_operand(operand: RawBsonRef<'_>) -> DocDbResult<TextQuery> {
    let RawBsonRef::Document(fields) = operand else {
        bail!(BadValue, "$text expects an object");
    };
    parse_fields(fields)
}

fn parse_fields(fields: &RawDocument) -> DocDbResult<TextQuery> {
    let mut search = None;
    let mut query = TextQuery {
        search: SearchString::default(),
        language: None,
        case_sensitive: false,
        diacritic_sensitive: false,
    };
    for field in fields {
        let (name, value) = field.map_err(|e| docdb_error!(BadValue, "{e}"))?;
        match (name.as_str(), value) {
            ("$search", RawBsonRef::String(s)) => search = Some(s),
            ("$search", _) => bail!(TypeMismatch, "$search requires a string value"),
            ("$language", RawBsonRef::String(l)) => query.language = Some(l.to_owned()),
            ("$language", _) => bail!(TypeMismatch, "$language requires a string value"),
            ("$caseSensitive", RawBsonRef::Boolean(b)) => query.case_sensitive = b,
            ("$caseSensitive", _) => bail!(TypeMismatch, "$caseSensitive requires a boolean value"),
            ("$diacriticSensitive", RawBsonRef::Boolean(b)) => query.diacritic_sensitive = b,
            ("$diacriticSensitive", _) => bail!(TypeMismatch, "$diacriticSensitive requires a boolean value"),
            (other, _) => bail!(BadValue, "extra fields in $text: {other}"),
        }
    }
    let search = search.ok_or_else(|| docdb_error!(FailedToParse, "$text requires a $search string"))?;
    query.search = parse_search(search);
    Ok(query)
}

/// Splits a `$search` string into terms, phrases and negations. Terms are separated by
/// whitespace and punctuation other than a word's own characters; a `-` starting a token
/// negates the term or phrase it starts; an unclosed quote runs to the end of the string.
pub fn parse_search(search: &str) -> SearchString {
    let mut out = SearchString::default();
    let chars: Vec<char> = search.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // A `-` negates only at the start of a token ("well-known" is two terms).
        let token_start = i == 0 || chars[i - 1].is_whitespace();
        let negated =
            c == '-' && token_start && i + 1 < chars.len() && (chars[i + 1] == '"' || is_word_char(chars[i + 1]));
        let start = if negated { i + 1 } else { i };
        if chars.get(start) == Some(&'"') {
            let end = chars[start + 1..].iter().position(|c| *c == '"').map_or(chars.len(), |p| start + 1 + p);
            let phrase: String = chars[start + 1..end].iter().collect();
            let words = words_of(&phrase);
            if !words.is_empty() {
                let phrase = words.join(" ");
                if negated {
                    out.negated_phrases.push(phrase);
                } else {
                    out.terms.extend(words);
                    out.phrases.push(phrase);
                }
            }
            i = end + 1;
            continue;
        }
        if is_word_char(chars[start]) {
            let end = chars[start..].iter().position(|c| !is_word_char(*c)).map_or(chars.len(), |p| start + p);
            let word: String = chars[start..end].iter().collect();
            if negated {
                out.negated_terms.push(word);
            } else {
                out.terms.push(word);
            }
            i = end;
            continue;
        }
        i += 1;
    }
    dedup(&mut out.terms);
    dedup(&mut out.phrases);
    dedup(&mut out.negated_terms);
    dedup(&mut out.negated_phrases);
    out
}

/// Letters, digits and the characters MongoDB keeps inside a word (`'` and `_`).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\'' || c == '_'
}

fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !is_word_char(c)).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

fn dedup(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|i| seen.insert(i.clone()));
}

/// PostgreSQL's text search configuration for a MongoDB language name or code (the
/// languages MongoDB's text indexes support that PostgreSQL ships); `none` is `simple`.
pub fn text_search_config(language: &str) -> Option<&'static str> {
    Some(match language.to_ascii_lowercase().as_str() {
        "none" => "simple",
        "danish" | "da" => "danish",
        "dutch" | "nl" => "dutch",
        "english" | "en" => "english",
        "finnish" | "fi" => "finnish",
        "french" | "fr" => "french",
        "german" | "de" => "german",
        "hungarian" | "hu" => "hungarian",
        "italian" | "it" => "italian",
        "norwegian" | "nb" => "norwegian",
        "portuguese" | "pt" => "portuguese",
        "romanian" | "ro" => "romanian",
        "russian" | "ru" => "russian",
        "spanish" | "es" => "spanish",
        "swedish" | "sv" => "swedish",
        "turkish" | "tr" => "turkish",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {

    fn query(search: &str, case_sensitive: bool, diacritic_sensitive: bool) -> TextQuery {
        TextQuery { search: parse_search(search), language: None, case_sensitive, diacritic_sensitive }
    }

    /// Manual ($text): case- and diacritic-insensitive by default; $caseSensitive and
    /// $diacriticSensitive make words compare as written.
    #[test]
    fn sensitive_searches_compare_words_as_written() {
        assert_eq!(fold_diacritics("Café Crème naïve"), "Cafe Creme naive");
        let text = "Le Café est très bon\nCOFFEE";
        assert!(matches_sensitively(text, &query("cafe", false, false)));
        assert!(!matches_sensitively(text, &query("cafe", false, true)));
        assert!(matches_sensitively(text, &query("café", false, true)));
        assert!(!matches_sensitively(text, &query("café", true, true)));
        assert!(matches_sensitively(text, &query("Café", true, true)));
        assert!(matches_sensitively(text, &query("Cafe", true, false)));
        assert!(!matches_sensitively(text, &query("coffee", true, false)));
        assert!(matches_sensitively(text, &query("coffee tea", false, false)));
        assert!(matches_sensitively(text, &query("\"est tres\"", false, false)));
        assert!(!matches_sensitively(text, &query("\"est tres\"", false, true)));
        assert!(!matches_sensitively(text, &query("Café -COFFEE", true, false)));
        assert!(matches_sensitively(text, &query("Café -coffee", true, false)));
        assert!(!matches_sensitively(text, &query("Café -\"tres bon\"", false, false)));
    }

    use super::*;
    use bson::rawdoc;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    // The manual's examples ($text, "Search for a Phrase", "Exclude Documents That Contain a Term").
    #[test]
    fn terms_phrases_and_negations() {
        let s = parse_search("coffee shop");
        assert_eq!(s.terms, strings(&["coffee", "shop"]));
        assert!(s.phrases.is_empty());
        let s = parse_search("\"coffee shop\" cake");
        assert_eq!(s.phrases, strings(&["coffee shop"]));
        assert_eq!(s.terms, strings(&["coffee", "shop", "cake"]));
        let s = parse_search("coffee -shop");
        assert_eq!((s.terms, s.negated_terms), (strings(&["coffee"]), strings(&["shop"])));
        let s = parse_search("bake -\"coffee shop\" well-known");
        assert_eq!(s.negated_phrases, strings(&["coffee shop"]));
        assert_eq!(s.terms, strings(&["bake", "well", "known"]));
        let s = parse_search("  \"unclosed phrase ");
        assert_eq!(s.phrases, strings(&["unclosed phrase"]));
        assert!(parse_search("-only -negations").matches_nothing());
        assert_eq!(parse_search("café l'été CAFÉ café").terms, strings(&["café", "l'été", "CAFÉ"]));
    }

    #[test]
    fn operand_errors_are_mongodb_s() {
        let ok = parse_text_operand(RawBsonRef::Document(&rawdoc! { "$search": "a", "$language": "fr" })).unwrap();
        assert_eq!(ok.language.as_deref(), Some("fr"));
        let code = |d: bson::RawDocumentBuf| parse_text_operand(RawBsonRef::Document(&d)).unwrap_err().code.code();
        assert_eq!(code(rawdoc! {}), 9);
        assert_eq!(code(rawdoc! { "$search": 1 }), 14);
        assert_eq!(code(rawdoc! { "$search": "a", "$other": 1 }), 2);
        assert_eq!(code(rawdoc! { "$search": "a", "$caseSensitive": "yes" }), 14);
    }

    #[test]
    fn languages_map_to_postgres_configurations() {
        assert_eq!(text_search_config("english"), Some("english"));
        assert_eq!(text_search_config("FR"), Some("french"));
        assert_eq!(text_search_config("none"), Some("simple"));
        assert_eq!(text_search_config("klingon"), None);
    }
}
