#![no_main]
//! The gateway's wire-protocol parser on arbitrary bytes: `parse_frame` must never panic, a
//! parsed OP_MSG must re-encode to an equal message, and command extraction must never panic.
use documentdb_gateway::commands::CommandRequest;
use documentdb_gateway::protocol::{self, Request};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    let Ok(frame) = protocol::parse_frame(bytes) else {
        return;
    };
    match &frame.request {
        Request::Msg(msg) => {
            let _ = CommandRequest::from_op_msg(msg);
            let again =
                protocol::encode_op_msg_with_sequences(frame.header.request_id, msg.flags, &msg.body, &msg.sequences);
            match protocol::parse_frame(&again) {
                Ok(reparsed) => assert_eq!(reparsed.request, frame.request, "OP_MSG round trip"),
                Err(e) => panic!("re-encoded OP_MSG does not parse: {e}"),
            }
        }
        Request::Query(query) => {
            let _ = CommandRequest::from_op_query(query);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    // Most inputs fail the length check; also try them with the length fixed up so the
    // fuzzer reaches the section, compression and BSON parsing.
    if data.len() >= protocol::HEADER_LEN && data.len() <= protocol::MAX_MESSAGE_SIZE {
        let mut fixed = data.to_vec();
        fixed[..4].copy_from_slice(&(data.len() as i32).to_le_bytes());
        check(&fixed);
    }
    let _ = protocol::looks_like_tls(&data[..data.len().min(6)]);
    let _ = documentdb_scram::parse_client_first(data);
});
