package alarm

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestActionsFor(t *testing.T) {
	c := Config{ActionsEnabled: true, AlarmActions: []string{"a"}, OKActions: []string{"o"}, InsufficientDataActions: []string{"i"}}
	for s, want := range map[State][]string{StateAlarm: {"a"}, StateOK: {"o"}, StateInsufficientData: {"i"}, "bogus": nil} {
		if diff := cmp.Diff(want, c.ActionsFor(s)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", s, diff)
		}
	}
	c.ActionsEnabled = false
	if got := c.ActionsFor(StateAlarm); got != nil {
		t.Errorf("actions while disabled: %v", got)
	}
}

func TestHistoryData(t *testing.T) {
	r := Result{State: StateAlarm, Reason: "Threshold Crossed: x (minimum 1 datapoint for OK -> ALARM transition).", ReasonData: []byte(`{"version":"1.0"}`)}
	got := string(HistoryData(StateOK, "Unchecked: Initial alarm creation", r))
	want := `{"version":"1.0","oldState":{"stateValue":"OK","stateReason":"Unchecked: Initial alarm creation"},` +
		`"newState":{"stateValue":"ALARM","stateReason":"Threshold Crossed: x (minimum 1 datapoint for OK -> ALARM transition).","stateReasonData":{"version":"1.0"}}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	r.ReasonData = []byte(`{not json`)
	got = string(HistoryData(StateOK, "", r))
	want = `{"version":"1.0","oldState":{"stateValue":"OK","stateReason":""},"newState":{"stateValue":"ALARM","stateReason":"Threshold Crossed: x (minimum 1 datapoint for OK -> ALARM transition)."}}`
	if got != want {
		t.Errorf("with bad reason data\n got %s\nwant %s", got, want)
	}
}
