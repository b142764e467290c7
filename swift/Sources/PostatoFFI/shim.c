// An empty translation unit so SwiftPM treats PostatoFFI as a C target; the functions it
// declares (include/PostatoFFI.h, generated) are defined by the Rust library.
