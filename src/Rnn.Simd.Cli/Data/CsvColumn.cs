using System.Globalization;
using System.Text;

namespace Rnn.Simd.Cli.Data;

/// <summary>Reads one numeric column of a CSV file (RFC 4180 quoting; a header row is detected and named columns are found in it).</summary>
internal static class CsvColumn
{
    /// <summary>
    /// The values of <paramref name="column"/> (a header name, or a 0-based index) in file order. Empty lines are
    /// skipped; the first row is a header when its field in that column is not a number.
    /// </summary>
    /// <exception cref="InvalidDataException">No such column, a row without it, a value that is not a finite number (file, line and text named), or fewer than two values.</exception>
    public static float[] Read(string path, string column)
    {
        var values = new List<float>();
        int index = int.TryParse(column, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : -1;
        int line = 0;
        bool first = true;
        foreach (string raw in File.ReadLines(path))
        {
            line++;
            if (raw.Length == 0 || raw.AsSpan().Trim().IsEmpty)
            {
                continue;
            }

            List<string> fields = Split(raw, path, line);
            if (first)
            {
                first = false;
                if (index < 0)
                {
                    index = fields.FindIndex(f => string.Equals(f.Trim(), column, StringComparison.Ordinal));
                    if (index < 0)
                    {
                        throw new InvalidDataException($"{Path.GetFileName(path)} has no column '{column}' in its header ({string.Join(", ", fields.Select(f => f.Trim()))}).");
                    }

                    continue;
                }

                if (index < fields.Count && !TryParse(fields[index], out _))
                {
                    continue;   // a header row above numeric data
                }
            }

            if (index >= fields.Count)
            {
                throw new InvalidDataException($"{Path.GetFileName(path)} line {line} has {fields.Count} fields; column {index} is missing.");
            }

            if (!TryParse(fields[index], out float value))
            {
                throw new InvalidDataException($"{Path.GetFileName(path)} line {line}: '{fields[index].Trim()}' is not a finite number.");
            }

            values.Add(value);
        }

        if (values.Count < 2)
        {
            throw new InvalidDataException($"{Path.GetFileName(path)} has {values.Count} value(s) in column '{column}'; a series needs at least two.");
        }

        return [.. values];
    }

    private static bool TryParse(string field, out float value) =>
        float.TryParse(field.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value) && float.IsFinite(value);

    /// <summary>Splits one CSV record (commas; fields in double quotes may hold commas and doubled quotes).</summary>
    private static List<string> Split(string line, string path, int number)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        if (quoted)
        {
            throw new InvalidDataException($"{Path.GetFileName(path)} line {number} has an unterminated quoted field.");
        }

        fields.Add(field.ToString());
        return fields;
    }
}
