//! `toogoodtogo-operator`: run the controller, print the CRD, or render a resource offline.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use toogoodtogo_operator::{crd, offline};

#[derive(Parser)]
#[command(name = "toogoodtogo-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinition as YAML.
    Crd,
    /// Print every object the operator would apply for a resource, without a cluster.
    Render {
        /// The TooGoodToGo manifest.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// Directory of Secret manifests for the referenced Secrets; placeholders without it.
        #[arg(long)]
        secrets: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let output = match cli.command {
        Command::Crd => crd::crd_yaml().context("serializing the CRD")?,
        Command::Render { file, secrets } => {
            let cr = offline::parse_resource(&file)?;
            let secrets = match secrets {
                Some(dir) => offline::load_secrets(&dir)?,
                None => offline::placeholder_secrets(&cr),
            };
            offline::render_yaml(&cr, &secrets).await?
        }
    };
    std::io::stdout()
        .write_all(output.as_bytes())
        .context("writing to stdout")?;
    Ok(())
}
