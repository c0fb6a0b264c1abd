package data

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/secure-movie-service/sms/pipeline/keyless"
	"github.com/secure-movie-service/sms/threatmodel"
)

// The control results a release carries must cover exactly the threat model's controls:
// admission reads the required ids from this data, so a control added to the model and not
// here would never be required, and an id here that the model lost could never be met.
func TestRequiredControlsAreTheModels(t *testing.T) {
	m, _, err := threatmodel.Load("../../threatmodel/threatmodel.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range m.Controls {
		want = append(want, c.ID)
	}
	slices.Sort(want)
	var d struct {
		SupplyChain struct {
			Controls struct {
				Required []string `json:"required"`
			} `json:"controls"`
			Enforcement map[string]string `json:"enforcement"`
		} `json:"supply_chain"`
	}
	if err := json.Unmarshal(SupplyChain, &d); err != nil {
		t.Fatal(err)
	}
	t.Run("C-CONTROLS-ATTESTED required ids are the model's", func(t *testing.T) {
		if got := d.SupplyChain.Controls.Required; !slices.Equal(got, want) {
			t.Errorf("policy/data/supply_chain.json controls.required\n got %v\nwant %v (sorted control ids of threatmodel.yaml)", got, want)
		}
	})
	t.Run("C-ADMISSION-LEVELS production data lowers no rule", func(t *testing.T) {
		if len(d.SupplyChain.Enforcement) != 0 {
			t.Errorf("production enforcement levels %v: production denies on every rule", d.SupplyChain.Enforcement)
		}
	})
}

// The production trust policy loads: every identity names an issuer and an anchored subject
// pattern, and the release workflow's identity is the one trusted for the project's images.
func TestProductionTrustPolicy(t *testing.T) {
	if err := keyless.CheckPolicy(SupplyChain); err != nil {
		t.Fatalf("C-KEYLESS production trust policy: %v", err)
	}
	var d struct {
		SupplyChain struct {
			Trust []keyless.Trust `json:"trust"`
		} `json:"supply_chain"`
	}
	if err := json.Unmarshal(SupplyChain, &d); err != nil {
		t.Fatal(err)
	}
	release := "https://github.com/secure-movie-service/sms/.github/workflows/release.yml@refs/tags/v1.2.3"
	fork := "https://github.com/secure-movie-service/sms-fork/.github/workflows/release.yml@refs/tags/v1.2.3"
	if len(d.SupplyChain.Trust) != 1 || len(d.SupplyChain.Trust[0].Identities) != 1 {
		t.Fatalf("trust %+v", d.SupplyChain.Trust)
	}
	re := regexp.MustCompile(d.SupplyChain.Trust[0].Identities[0].SubjectRegexp)
	if !re.MatchString(release) || re.MatchString(fork) || re.MatchString(release+"-rc") {
		t.Fatalf("C-KEYLESS subject_regexp %s", re)
	}
}
