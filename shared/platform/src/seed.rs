//! The operator's seed data, parsed by the same rules as the API: partners from a JSON list.

use crate::repo::forms::Forms;
use anyhow::{anyhow, Context, Result};
use domain::forms::{Partner, PartnerInput};

/// Parses a JSON list of partners with `PartnerInput`'s rules; every problem is named.
pub fn parse_partners(json: &str) -> Result<Vec<Partner>> {
    let inputs: Vec<PartnerInput> = serde_json::from_str(json).context("partners: a JSON list of partners")?;
    inputs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.parse().map_err(|e| {
                let id = p.id.as_deref().unwrap_or("?");
                anyhow!("partner {i} ({id}): {}", serde_json::to_string(&e.0).unwrap_or_default())
            })
        })
        .collect()
}

/// Writes partners, replacing any with the same id (`last_sent_at` starts over).
pub async fn write_partners(forms: &Forms, partners: &[Partner]) -> Result<()> {
    for p in partners {
        forms.store.write(forms.partner_put(p, true)?).await?;
    }
    Ok(())
}
