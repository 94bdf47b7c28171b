package selector

import (
	"testing"
)

func benchMatch(b *testing.B, set Set, name string) {
	if err := set.Validate(); err != nil {
		b.Fatal(err)
	}
	ev, ok := testEvents(b)[name]
	if !ok {
		b.Fatalf("no test event %s", name)
	}
	m := Compile(set)
	f := FieldsOf(&ev)
	if !m.Match(&f) {
		b.Fatalf("%s does not match", name)
	}
	b.ReportAllocs()
	for b.Loop() {
		f := FieldsOf(&ev) // one per event, as on the delivery path
		m.Match(&f)
	}
}

// BenchmarkMatchManagementOnly is the common trail: basic selectors logging
// management events, against a management event. No record parsing.
func BenchmarkMatchManagementOnly(b *testing.B) {
	benchMatch(b, Basic([]EventSelector{{ReadWriteType: WriteOnly, ExcludeManagementEventSources: []string{SourceKMS}}}), "PutBucketPolicy")
}

// BenchmarkMatchAdvanced is a data selector on S3 objects that also compares
// userIdentity.arn, so each matching event's record is scanned once.
func BenchmarkMatchAdvanced(b *testing.B) {
	benchMatch(b, Advanced([]AdvancedEventSelector{
		mgmt(eq(FieldReadOnly, "false")),
		data(TypeS3Object,
			fs(FieldResourcesARN, "StartsWith", []string{bucket + "/"}, "NotStartsWith", []string{bucket + "/tmp/"}),
			fs(FieldEventName, "NotEquals", []string{"DeleteObject"}),
			fs(FieldUserARN, "NotEndsWith", []string{"/ci-bot"})),
	}), "GetObject")
}

// BenchmarkMatchAdvancedSummaryOnly is the same data selector without the
// userIdentity.arn condition: Summary fields only.
func BenchmarkMatchAdvancedSummaryOnly(b *testing.B) {
	benchMatch(b, Advanced([]AdvancedEventSelector{
		mgmt(eq(FieldReadOnly, "false")),
		data(TypeS3Object,
			fs(FieldResourcesARN, "StartsWith", []string{bucket + "/"}, "NotStartsWith", []string{bucket + "/tmp/"}),
			fs(FieldEventName, "NotEquals", []string{"DeleteObject"})),
	}), "GetObject")
}
