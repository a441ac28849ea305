//! Imports a Terraform state file and prints the counts and the import report.
//!
//! `cargo run -p gatehouse-vpc --example import -- FILE…`

fn main() {
    for arg in std::env::args().skip(1) {
        match gatehouse_vpc::tfstate::import_file(std::path::Path::new(&arg)) {
            Ok((t, r)) => {
                println!("{arg}: {:?}", t.counts());
                println!("  imported {:?} data {}", r.imported, r.data_sources);
                println!("  skipped {} {:?}", r.skipped_total(), r.skipped);
                for w in &r.warnings {
                    println!("  warning: {w}");
                }
            }
            Err(e) => println!("{arg}: error: {e}"),
        }
    }
}
