//! The Telegram fake as a standalone process: `fake-telegram [--port N] [--token T]`.
//! Benchmarks run it in its own process so that its CPU use is measured apart.

use toogoodtogo_tests::harness::TEST_TOKEN;
use toogoodtogo_tests::telegram_fake::FakeTelegram;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut port = 0u16;
    let mut token = TEST_TOKEN.to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--token" => token = args.next().ok_or("--token needs a value")?,
            "--help" | "-h" => {
                println!("usage: fake-telegram [--port N] [--token TOKEN]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let fake =
        FakeTelegram::start_on(&token, std::net::SocketAddr::from(([127, 0, 0, 1], port))).await?;
    // The first line tells the parent where to connect.
    println!("{}", fake.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
