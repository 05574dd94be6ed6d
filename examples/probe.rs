use granit_parser::{Parser, Options, Event};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let src = std::fs::read_to_string(path).unwrap();
    let mut o = Options::default();
    o.emit_anchor_events = true;
    let mut p = Parser::new_from_str_with_options(&src, o);
    while let Some(ev) = p.next_event() {
        let (ev, span) = ev.unwrap();
        let r = span.byte_range();
        println!("{:?} {:?} col={} {:?}", ev, r, span.start.col(), r.clone().map(|r| &src[r]));
    }
}
