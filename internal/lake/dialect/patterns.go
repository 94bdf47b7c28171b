package dialect

import (
	"fmt"
	"strings"
)

// mysqlSpecifiers maps the specifiers of Trino's date_format and date_parse
// (MySQL's) to DuckDB's strftime/strptime ones.
var mysqlSpecifiers = map[byte]string{
	'a': "%a",  // abbreviated weekday name
	'b': "%b",  // abbreviated month name
	'c': "%-m", // month, numeric
	'd': "%d",  // day of the month, 00..31
	'e': "%-d", // day of the month, 0..31
	'f': "%f",  // microseconds, 6 digits
	'H': "%H",  // hour 00..23
	'h': "%I",  // hour 01..12
	'I': "%I",  // hour 01..12
	'i': "%M",  // minutes
	'j': "%j",  // day of the year
	'k': "%-H", // hour 0..23
	'l': "%-I", // hour 1..12
	'M': "%B",  // month name
	'm': "%m",  // month 01..12
	'p': "%p",  // AM or PM
	'r': "%I:%M:%S %p",
	'S': "%S",
	's': "%S",
	'T': "%H:%M:%S",
	'v': "%V", // ISO week
	'W': "%A", // weekday name
	'Y': "%Y",
	'y': "%y",
	'%': "%%",
}

// mysqlPattern translates a date_format pattern to strftime's.
func mysqlPattern(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(p) {
			return "", fmt.Errorf("the format ends with a lone %%")
		}
		i++
		s, ok := mysqlSpecifiers[p[i]]
		if !ok {
			return "", fmt.Errorf("the format specifier %%%c is not supported", p[i])
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// jodaPattern translates a format_datetime pattern (Joda-Time's) to
// strftime's.
func jodaPattern(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			// Quoted literal text; '' is a quote.
			j := i + 1
			if j < len(p) && p[j] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			for j < len(p) {
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				writeLiteral(&b, p[j])
				j++
			}
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			s, err := jodaField(c, j-i)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
			i = j
		default:
			writeLiteral(&b, c)
			i++
		}
	}
	return b.String(), nil
}

func writeLiteral(b *strings.Builder, c byte) {
	if c == '%' {
		b.WriteString("%%")
		return
	}
	b.WriteByte(c)
}

// jodaField translates one Joda field of count letters c.
func jodaField(c byte, count int) (string, error) {
	pick := func(short, long string) string {
		if count >= 2 {
			return long
		}
		return short
	}
	switch c {
	case 'y', 'Y':
		if count == 2 {
			return "%y", nil
		}
		return "%Y", nil
	case 'x':
		return "%G", nil
	case 'M':
		switch {
		case count >= 4:
			return "%B", nil
		case count == 3:
			return "%b", nil
		}
		return pick("%-m", "%m"), nil
	case 'd':
		return pick("%-d", "%d"), nil
	case 'D':
		return pick("%-j", "%j"), nil
	case 'E':
		if count >= 4 {
			return "%A", nil
		}
		return "%a", nil
	case 'e':
		return "%u", nil
	case 'a':
		return "%p", nil
	case 'H':
		return pick("%-H", "%H"), nil
	case 'h':
		return pick("%-I", "%I"), nil
	case 'm':
		return pick("%-M", "%M"), nil
	case 's':
		return pick("%-S", "%S"), nil
	case 'S':
		switch count {
		case 3:
			return "%g", nil
		case 6:
			return "%f", nil
		case 9:
			return "%n", nil
		}
		return "", fmt.Errorf("the fraction-of-second field %s is not supported; use SSS, SSSSSS or SSSSSSSSS", strings.Repeat("S", count))
	case 'w':
		return pick("%-V", "%V"), nil
	case 'z':
		return "%Z", nil
	case 'Z':
		return "%z", nil
	}
	return "", fmt.Errorf("the pattern letter %c is not supported", c)
}
