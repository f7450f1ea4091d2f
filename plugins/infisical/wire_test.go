//go:build !wasip1

package main

import (
	"testing"
	"time"
)

var timeSamples = []string{
	"2026-11-28T17:00:00.000Z", "2026-11-28T17:00:00Z", "2026-11-28T17:00:00.123456789Z", "2026-11-28T17:00:00.1234567891Z",
	"2026-11-28T17:00:00.5+02:00", "2026-11-28T17:00:00-07:30", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
	"2026-13-01T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T17:60:00Z", "2026-11-28 17:00:00Z", "2026-11-28T17:00:00",
	"2026-11-28T17:00:00.Z", "2026-11-28T17:00:00+2:00", "2026-11-28T17:00:00+24:00", "tomorrow", "", "0000-01-01T00:00:00Z",
	"2026-11-28t17:00:00z", "+2026-11-28T17:00:00Z",
}

// parseTime accepts nothing time.Time's UnmarshalJSON refuses, and gives
// the same instant.
func TestParseTime(t *testing.T) {
	for _, s := range timeSamples {
		checkTime(t, s)
	}
	if got, _ := parseTime("2026-11-28T17:00:00.250+01:00"); !got.Equal(time.Date(2026, 11, 28, 16, 0, 0, 250e6, time.UTC)) {
		t.Fatalf("got %v", got)
	}
	for _, s := range []string{"2026-11-28t17:00:00Z", "tomorrow", "2026-11-28T17:00:00.Z", "2023-02-29T00:00:00Z"} {
		if _, ok := parseTime(s); ok {
			t.Errorf("parseTime(%q) accepted", s)
		}
	}
}

func checkTime(t *testing.T, s string) {
	got, ok := parseTime(s)
	var want time.Time
	err := want.UnmarshalJSON([]byte(`"` + s + `"`))
	if ok && (err != nil || !got.Equal(want)) {
		t.Fatalf("parseTime(%q) = %v; UnmarshalJSON %v, %v", s, got, want, err)
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range timeSamples {
		f.Add(s)
	}
	f.Fuzz(checkTime)
}

// FuzzParseTimeFormatted: every time written in RFC 3339 (as Infisical
// writes it, or with nanoseconds and any offset) reads back.
func FuzzParseTimeFormatted(f *testing.F) {
	f.Add(int64(1795971600), int64(0), int16(0))
	f.Add(int64(-62135596800), int64(999999999), int16(-754))
	f.Fuzz(func(t *testing.T, sec, nsec int64, offsetMin int16) {
		if sec < -62135596800 || sec > 253402300799 { // years 1 to 9999
			return
		}
		zone := time.FixedZone("", int(offsetMin%(24*60))*60)
		tm := time.Unix(sec, nsec%1e9).In(zone)
		if tm.Year() < 0 || tm.Year() > 9999 {
			return
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z07:00", time.RFC3339} {
			s := tm.Format(layout)
			got, ok := parseTime(s)
			if want, _ := time.Parse(layout, s); !ok || !got.Equal(want) {
				t.Fatalf("parseTime(%q) = %v, %v; want %v", s, got, ok, want)
			}
		}
	})
}
