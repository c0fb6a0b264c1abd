package fixture

import "testing"

func TestCheck(t *testing.T) {
	t.Run("C-CHECK rejects bad input", func(t *testing.T) {
		if Check("") == nil {
			t.Fatal("accepted empty input")
		}
	})
	t.Run("accepts good input", func(t *testing.T) {
		if err := Check("x"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLimit(t *testing.T) {
	if Limit(11) != 10 {
		t.Fatal("no limit")
	}
}
