//! The error catalogue shared by `documentdb_core`, `documentdb` and the gateway.
//!
//! Every error we raise carries a MongoDB error code. Inside PostgreSQL the code travels
//! as a SQLSTATE of class `M`: `'M'` followed by the code in base 36 (four digits, so
//! codes up to 1,632,959 map directly; larger "Location" codes are registered in
//! [`LARGE_CODES`] and travel as `MZ` + their index). The mapping is reversible, so the
//! gateway can turn any SQLSTATE it receives back into `{code, codeName}` without a
//! table lookup for codes it has never heard of.

// A pure crate: no PostgreSQL, no unsafe.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;

/// A MongoDB error code. Named codes have associated constants; any other number is a
/// "Location" code (codeName `Location<n>`), as MongoDB reports its assertion codes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(i32);

macro_rules! catalogue {
    ($($name:ident = $code:expr,)*) => {
        #[allow(non_upper_case_globals)]
        impl ErrorCode {
            $(pub const $name: ErrorCode = ErrorCode($code);)*
        }

        /// Every named code, in code order.
        pub const NAMED_CODES: &[(i32, &str)] = &[$(($code, stringify!($name)),)*];
    };
}

catalogue! {
    OK = 0,
    InternalError = 1,
    BadValue = 2,
    NoSuchKey = 4,
    HostUnreachable = 6,
    HostNotFound = 7,
    UnknownError = 8,
    FailedToParse = 9,
    CannotMutateObject = 10,
    UserNotFound = 11,
    UnsupportedFormat = 12,
    Unauthorized = 13,
    TypeMismatch = 14,
    Overflow = 15,
    InvalidLength = 16,
    ProtocolError = 17,
    AuthenticationFailed = 18,
    IllegalOperation = 20,
    EmptyArrayOperation = 21,
    InvalidBSON = 22,
    LockTimeout = 24,
    NamespaceNotFound = 26,
    IndexNotFound = 27,
    PathNotViable = 28,
    NonExistentPath = 29,
    InvalidPath = 30,
    RoleNotFound = 31,
    CannotBackfillArray = 34,
    ConflictingUpdateOperators = 40,
    CursorNotFound = 43,
    NoMatchingDocument = 47,
    NamespaceExists = 48,
    InvalidRoleModification = 49,
    MaxTimeMSExpired = 50,
    DollarPrefixedFieldName = 52,
    InvalidIdField = 53,
    NotSingleValueField = 54,
    InvalidDBRef = 55,
    EmptyFieldName = 56,
    DottedFieldName = 57,
    CommandNotFound = 59,
    ShardKeyNotFound = 61,
    WriteConcernFailed = 64,
    MultipleErrorsOccurred = 65,
    ImmutableField = 66,
    CannotCreateIndex = 67,
    IndexAlreadyExists = 68,
    InvalidOptions = 72,
    InvalidNamespace = 73,
    UnknownReplWriteConcern = 79,
    IndexOptionsConflict = 85,
    IndexKeySpecsConflict = 86,
    NetworkTimeout = 89,
    ShutdownInProgress = 91,
    OperationFailed = 96,
    NoProjectionFound = 97,
    UnsatisfiableWriteConcern = 100,
    NotExactValueField = 111,
    WriteConflict = 112,
    CommandNotSupported = 115,
    ConflictingOperationInProgress = 117,
    NamespaceNotSharded = 118,
    DocumentValidationFailure = 121,
    CommandFailed = 125,
    CursorInUse = 143,
    ExceededMemoryLimit = 146,
    ZLibError = 147,
    DurationOverflow = 159,
    ViewDepthLimitExceeded = 165,
    CommandNotSupportedOnView = 166,
    OptionNotSupportedOnView = 167,
    InvalidPipelineOperator = 168,
    CannotIndexParallelArrays = 171,
    QueryPlanKilled = 175,
    InvalidViewDefinition = 182,
    ClientMetadataMissingField = 183,
    ClientMetadataAppNameTooLarge = 184,
    ClientMetadataDocumentTooLarge = 185,
    ClientMetadataCannotBeMutated = 186,
    PrimarySteppedDown = 189,
    InvalidIndexSpecificationOption = 197,
    CannotBuildIndexKeys = 201,
    NoSuchSession = 206,
    InvalidUUID = 207,
    DatabaseDropPending = 215,
    IncompleteTransactionHistory = 217,
    IllegalOpMsgFlag = 223,
    QueryFeatureNotAllowed = 224,
    TransactionTooOld = 225,
    CannotImplicitlyCreateCollection = 227,
    MaxSubPipelineDepthExceeded = 232,
    TooManyDocumentSequences = 233,
    CursorKilled = 237,
    NotImplemented = 238,
    ConversionFailure = 241,
    CannotCreateCollection = 242,
    NoSuchTransaction = 251,
    TransactionCommitted = 256,
    TransactionTooLarge = 257,
    InvalidResumeToken = 260,
    TooManyLogicalSessions = 261,
    ExceededTimeLimit = 262,
    OperationNotSupportedInTransaction = 263,
    TooManyFilesOpen = 264,
    PreparedTransactionInProgress = 267,
    ClientDisconnect = 279,
    ChecksumMismatch = 288,
    QueryExceededMemoryLimitNoDiskUseAllowed = 292,
    APIVersionError = 322,
    APIStrictError = 323,
    APIDeprecationError = 324,
    MechanismUnavailable = 334,
    SocketException = 9001,
    NotWritablePrimary = 10107,
    BSONObjectTooLarge = 10334,
    DuplicateKey = 11000,
    InterruptedAtShutdown = 11600,
    Interrupted = 11601,
    InterruptedDueToReplStateChange = 11602,
    NotPrimaryNoSecondaryOk = 13435,
    NotPrimaryOrSecondary = 13436,
    OutOfDiskSpace = 14031,
    KeyTooLong = 17280,
    SearchNotEnabled = 31082,
    ClientMarkedKilled = 46841,
    NotARetryableWriteCommand = 50768,
}

/// "Location" codes too large for the direct base-36 encoding. Each travels as `MZ` plus
/// its index in this list (three base-36 digits). Append only: the index is the wire form.
pub const LARGE_CODES: &[i32] = &[
    5858203, // $documents did not evaluate to an array
    // Raised by documentdb_query (expressions, accumulators, query paths) and documentdb.
    2942500, 2942501, 2942502, 2942503, 2942504, 2942505, 2942506, 2942507, 3040501, 3041701, 3041702, 3041703, 4161100,
    4161101, 4161102, 4161103, 4161105, 4161106, 4161107, 4161108, 4161109, 4940400, 4940401, 5107200, 5166301,
    5166302, 5166303, 5166304, 5166305, 5166307, 5166400, 5166401, 5166402, 5166403, 5166404, 5166405, 5439007,
    5439008, 5439009, 5439010, 5439012, 5439013, 5439014, 5439015, 5439016, 5439017, 5439018, 5654600, 5654601,
    5654602, 5729100, 5733415, 5787801, 5787900, 5787901, 5787902, 5787903, 5787906, 5787907, 5787908, 5788001,
    5788002, 5788003, 5788004, 5788005, 5788200, 5976500, 6045000, 9534700,
    // $median/$percentile, $setWindowFields and its operators, $densify, $fill (issue #13);
    // scripts/error_codes.py checks every raised code is listed.
    5339900, 5339901, 5339902, 5371601, 5371602, 5371603, 5423900, 5423901, 5423902, 5429413, 5429513, 5490710, 5624900,
    5624901, 5624902, 5624903, 5687301, 5687302, 5733201, 5733307, 5733308, 5733401, 5733402, 5733403, 5733404,
    5733405, 5733406, 5733408, 5733409, 5733410, 5739101, 5788403, 5876900, 5897900, 5946800, 5946802, 6050106,
    6050200, 6050201, 6050202, 6050203, 6050204, 6053600, 6307900, 6586400, 7436200, 7436201, 7455900, 7750300,
    7750301, 7750302, 7750303, 8947401, 8993000, 9554500, 5558702,
];

const DIRECT_LIMIT: i32 = 35 * 36 * 36 * 36; // codes whose base-36 form doesn't start with 'Z'
const B36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

impl ErrorCode {
    /// Any MongoDB code; named or not.
    pub const fn new(code: i32) -> ErrorCode {
        ErrorCode(code)
    }

    pub const fn code(self) -> i32 {
        self.0
    }

    /// MongoDB's `codeName`: the catalogue name, or `Location<n>` for unnamed codes.
    pub fn name(self) -> Cow<'static, str> {
        match NAMED_CODES.binary_search_by_key(&self.0, |(c, _)| *c) {
            Ok(i) => Cow::Borrowed(NAMED_CODES[i].1),
            Err(_) => Cow::Owned(format!("Location{}", self.0)),
        }
    }

    /// Looks a code up by its `codeName`.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        if let Some((code, _)) = NAMED_CODES.iter().find(|(_, n)| *n == name) {
            return Some(ErrorCode(*code));
        }
        name.strip_prefix("Location").and_then(|digits| digits.parse().ok()).map(ErrorCode)
    }

    /// The five-character SQLSTATE (class `M`) this code travels as inside PostgreSQL.
    pub fn sqlstate(self) -> [u8; 5] {
        let (prefix_len, mut value) = if (0..DIRECT_LIMIT).contains(&self.0) {
            (1, self.0)
        } else if let Some(index) = LARGE_CODES.iter().position(|c| *c == self.0) {
            (2, index as i32)
        } else {
            // Unregistered out-of-range codes are reported as InternalError rather than
            // being silently mangled into some other code.
            (1, ErrorCode::InternalError.0)
        };
        let mut out = *b"MZ000";
        for slot in out[prefix_len..].iter_mut().rev() {
            *slot = B36[(value % 36) as usize];
            value /= 36;
        }
        out
    }

    /// The SQLSTATE as a string, e.g. `"M0002"` for BadValue.
    pub fn sqlstate_str(self) -> String {
        String::from_utf8_lossy(&self.sqlstate()).into_owned()
    }

    /// The SQLSTATE packed the way PostgreSQL's `MAKE_SQLSTATE` macro packs it, for `errcode()`.
    pub fn sqlstate_packed(self) -> i32 {
        self.sqlstate()
            .iter()
            .enumerate()
            .fold(0i32, |acc, (i, ch)| acc | ((((*ch as i32) - ('0' as i32)) & 0x3F) << (6 * i)))
    }

    /// Decodes a class-`M` SQLSTATE back into the MongoDB code; `None` for other classes.
    pub fn from_sqlstate(sqlstate: &str) -> Option<ErrorCode> {
        let bytes = sqlstate.as_bytes();
        if bytes.len() != 5 || bytes[0] != b'M' {
            return None;
        }
        let digit = |b: u8| B36.iter().position(|d| *d == b).map(|p| p as i32);
        if bytes[1] == b'Z' {
            let mut index = 0;
            for b in &bytes[2..] {
                index = index * 36 + digit(*b)?;
            }
            return LARGE_CODES.get(index as usize).map(|c| ErrorCode(*c));
        }
        let mut code = 0;
        for b in &bytes[1..] {
            code = code * 36 + digit(*b)?;
        }
        Some(ErrorCode(code))
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// An error with a MongoDB code and a message a user can act on.
#[derive(Clone, PartialEq, Eq)]
pub struct DocDbError {
    pub code: ErrorCode,
    pub message: String,
    /// Extra fields of MongoDB's error reply (e.g. `keyPattern`/`keyValue` of a duplicate key,
    /// `errInfo` of a validation failure) as raw BSON document bytes.
    pub details: Option<Vec<u8>>,
}

/// Prefix of the PostgreSQL error DETAIL that carries [`DocDbError::details`], followed by
/// the BSON bytes in hex. The gateway merges those fields into the error reply.
pub const DETAILS_PREFIX: &str = "documentdb-error-details:";

impl DocDbError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> DocDbError {
        DocDbError { code, message: message.into(), details: None }
    }

    /// Attaches extra reply fields (a BSON document's bytes).
    pub fn with_details(mut self, details: Vec<u8>) -> DocDbError {
        self.details = Some(details);
        self
    }

    /// The DETAIL text that carries the details, if any.
    pub fn detail_text(&self) -> Option<String> {
        let bytes = self.details.as_ref()?;
        let mut text = String::with_capacity(DETAILS_PREFIX.len() + bytes.len() * 2);
        text.push_str(DETAILS_PREFIX);
        for b in bytes {
            text.push_str(&format!("{b:02x}"));
        }
        Some(text)
    }

    /// Decodes details from a DETAIL text written by [`DocDbError::detail_text`].
    pub fn details_from_text(detail: &str) -> Option<Vec<u8>> {
        let hex = detail.strip_prefix(DETAILS_PREFIX)?;
        if hex.len() % 2 != 0 {
            return None;
        }
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
    }
}

impl fmt::Debug for DocDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl fmt::Display for DocDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DocDbError {}

pub type DocDbResult<T> = Result<T, DocDbError>;

/// `docdb_error!(BadValue, "unknown operator: {}", op)` builds a [`DocDbError`].
#[macro_export]
macro_rules! docdb_error {
    ($code:ident, $($arg:tt)+) => {
        $crate::DocDbError::new($crate::ErrorCode::$code, format!($($arg)+))
    };
}

/// mongod's answer to Atlas Search commands and stages (`SearchNotEnabled`) outside Atlas.
pub const SEARCH_NOT_ENABLED_MESSAGE: &str = "Using Atlas Search Database Commands and the $listSearchIndexes aggregation stage requires additional configuration. Please connect to Atlas or an AtlasCLI local deployment to enable. For more information on how to connect, see https://dochub.mongodb.org/core/atlas-cli-deploy-local-reqs";

/// `bail!(BadValue, "...")` returns early with a [`DocDbError`].
#[macro_export]
macro_rules! bail {
    ($code:ident, $($arg:tt)+) => {
        return Err($crate::docdb_error!($code, $($arg)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_codes_are_sorted_and_unique() {
        for pair in NAMED_CODES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{:?} must come before {:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn sqlstate_round_trips_for_every_named_code() {
        for (code, name) in NAMED_CODES {
            let ec = ErrorCode::new(*code);
            assert_eq!(ec.name(), *name);
            let state = ec.sqlstate_str();
            assert!(state.starts_with('M'));
            assert!(state.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
            assert_eq!(ErrorCode::from_sqlstate(&state), Some(ec), "{state}");
        }
    }

    #[test]
    fn sqlstate_examples() {
        assert_eq!(ErrorCode::BadValue.sqlstate_str(), "M0002");
        assert_eq!(ErrorCode::DuplicateKey.sqlstate_str(), "M08HK");
        assert_eq!(ErrorCode::from_sqlstate("23505"), None);
    }

    #[test]
    fn details_round_trip_through_detail_text() {
        let err = DocDbError::new(ErrorCode::DuplicateKey, "dup").with_details(vec![5, 0, 0, 0, 0]);
        let text = err.detail_text().unwrap();
        assert!(text.starts_with(DETAILS_PREFIX));
        assert_eq!(DocDbError::details_from_text(&text), Some(vec![5, 0, 0, 0, 0]));
        assert_eq!(DocDbError::details_from_text("other detail"), None);
    }

    #[test]
    fn location_codes_round_trip() {
        for code in [51024, 40352, 1_632_959] {
            let ec = ErrorCode::new(code);
            assert_eq!(ec.name(), format!("Location{code}"));
            assert_eq!(ErrorCode::from_sqlstate(&ec.sqlstate_str()), Some(ec));
            assert_eq!(ErrorCode::from_name(&ec.name()), Some(ec));
        }
    }

    #[test]
    fn gateway_codes_have_their_names() {
        assert_eq!(ErrorCode::HostUnreachable.code(), 6);
        assert_eq!(ErrorCode::new(6).name(), "HostUnreachable");
        // Codes MongoDB reports without a name keep their Location name.
        assert_eq!(ErrorCode::new(40571).name(), "Location40571");
        assert_eq!(ErrorCode::new(51024).name(), "Location51024");
    }

    #[test]
    fn packed_sqlstate_matches_postgres_macro() {
        // MAKE_SQLSTATE('2','3','5','0','5') is unique_violation; check our packing formula
        // against PostgreSQL's value for it (23505 -> 0x0500C82 ... computed independently).
        let pack =
            |s: &[u8; 5]| s.iter().enumerate().fold(0i32, |acc, (i, c)| acc | (((*c as i32 - 48) & 0x3F) << (6 * i)));
        assert_eq!(pack(b"23505"), 83_906_754);
        assert_eq!(ErrorCode::BadValue.sqlstate_packed(), pack(b"M0002"));
    }
}
