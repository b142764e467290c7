//! Reading a campaign line (a post as JSON) and validating it never panics; a valid post's
//! body always reads back as the same post.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postato_core::Post;

fuzz_target!(|data: &[u8]| {
    if let Ok(post) = serde_json::from_slice::<Post>(data) {
        if post.validate().is_ok() {
            let body = post.wire_body();
            let again = Post::from_wire_body(&post.business_key, &body).expect("a valid post's body reads back");
            assert_eq!(again, post);
        }
    }
});
