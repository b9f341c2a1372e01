//! Country rules of the Terms: export control (§13.3) and the contracting party (§28).

use serde::Serialize;

/// Every assigned ISO 3166-1 alpha-2 code.
const ASSIGNED: &str =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT \
MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG \
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

pub fn is_assigned(code: &str) -> bool {
    code.len() == 2 && ASSIGNED.split(' ').any(|c| c == code)
}

/// §13.3: U.S.-embargoed countries.
pub const EMBARGOED_COUNTRIES: &[&str] = &["CU", "IR", "KP", "SD", "SY"];
/// §13.3: the Crimea region of Ukraine (Autonomous Republic of Crimea and Sevastopol).
pub const EMBARGOED_REGIONS: &[&str] = &["UA-43", "UA-40"];

/// §28: countries that contract with Bitrix24 Ltd. (Cyprus).
pub const EU_PARTY_COUNTRIES: &[&str] = &[
    "AL", "AD", "AT", "BE", "BA", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IS", "IE", "IT",
    "LV", "LT", "LI", "LU", "MK", "MT", "MC", "ME", "NL", "PL", "PT", "RO", "SM", "SK", "SI", "SE", "GB", "VA",
];
/// §28: countries these Terms do not cover (Estonia, Latvia and Lithuania are in the first list, SPEC).
pub const NOT_COVERED: &[&str] = &["AM", "AZ", "BY", "GE", "KZ", "KG", "MD", "RU", "TJ", "TM", "UA", "UZ"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ContractingParty {
    pub name: String,
    pub notices_email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountryRule {
    /// §13.3: refused with HTTP 451.
    Embargoed,
    /// §28: refused, the Terms do not cover this country.
    NotCovered,
    Party(ContractingParty),
}

pub fn is_embargoed(country: &str, region: Option<&str>) -> bool {
    EMBARGOED_COUNTRIES.contains(&country) || region.is_some_and(|r| EMBARGOED_REGIONS.contains(&r))
}

/// The rule for a country and optional ISO 3166-2 region; the embargo is checked first.
pub fn rule_for(country: &str, region: Option<&str>) -> CountryRule {
    if is_embargoed(country, region) {
        CountryRule::Embargoed
    } else if NOT_COVERED.contains(&country) {
        CountryRule::NotCovered
    } else if EU_PARTY_COUNTRIES.contains(&country) {
        CountryRule::Party(ContractingParty {
            name: "Bitrix24 Ltd.".into(),
            notices_email: "privacy@bitrix24.eu".into(),
        })
    } else {
        CountryRule::Party(ContractingParty {
            name: "Bitrix, Inc.".into(),
            notices_email: "privacy@bitrix24.com".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(c: &str) -> String {
        match rule_for(c, None) {
            CountryRule::Party(p) => p.name,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn embargoed_countries_and_crimea_are_refused() {
        for c in EMBARGOED_COUNTRIES {
            assert_eq!(rule_for(c, None), CountryRule::Embargoed);
        }
        assert_eq!(rule_for("UA", Some("UA-43")), CountryRule::Embargoed);
        assert_eq!(rule_for("UA", Some("UA-40")), CountryRule::Embargoed);
        assert_eq!(rule_for("UA", Some("UA-30")), CountryRule::NotCovered);
    }

    #[test]
    fn the_first_list_of_section_28_contracts_with_bitrix24_ltd() {
        for c in ["DE", "GB", "EE", "LV", "LT", "CY", "VA", "MK"] {
            assert_eq!(party(c), "Bitrix24 Ltd.", "{c}");
        }
    }

    #[test]
    fn other_countries_contract_with_bitrix_inc() {
        for c in ["US", "ES", "NO", "CH", "BR", "JP"] {
            assert_eq!(party(c), "Bitrix, Inc.", "{c}");
        }
    }

    #[test]
    fn countries_outside_the_terms_are_not_covered() {
        for c in NOT_COVERED {
            assert_eq!(rule_for(c, None), CountryRule::NotCovered, "{c}");
        }
    }

    #[test]
    fn every_listed_code_is_assigned() {
        for c in EMBARGOED_COUNTRIES.iter().chain(EU_PARTY_COUNTRIES).chain(NOT_COVERED) {
            assert!(is_assigned(c), "{c}");
        }
        assert!(!is_assigned("XX"));
    }
}
