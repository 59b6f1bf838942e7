using System.Text;
using System.Text.Json;

namespace Rnn.Simd.Cli.Data;

/// <summary>
/// The symbols of a character-level language model: every distinct Unicode scalar value of a text (a
/// <see cref="Rune"/>, so characters outside the BMP are one symbol), in ordinal order, id = position.
/// </summary>
internal sealed class CharacterVocabulary
{
    private readonly Rune[] _symbols;
    private readonly Dictionary<Rune, int> _ids;

    private CharacterVocabulary(Rune[] symbols)
    {
        _symbols = symbols;
        _ids = new Dictionary<Rune, int>(symbols.Length);
        for (int i = 0; i < symbols.Length; i++)
        {
            if (!_ids.TryAdd(symbols[i], i))
            {
                throw new InvalidDataException($"The vocabulary lists '{symbols[i]}' twice.");
            }
        }
    }

    /// <summary>The number of symbols.</summary>
    public int Count => _symbols.Length;

    /// <summary>The vocabulary of a text: its distinct scalar values in ordinal order.</summary>
    /// <exception cref="InvalidDataException">The text is empty.</exception>
    public static CharacterVocabulary FromText(string text)
    {
        var distinct = new SortedSet<Rune>();
        foreach (Rune r in text.EnumerateRunes())
        {
            distinct.Add(r);
        }

        if (distinct.Count == 0)
        {
            throw new InvalidDataException("The text is empty: nothing to learn.");
        }

        return new CharacterVocabulary([.. distinct]);
    }

    /// <summary>The vocabulary as JSON (an array of strings, one per symbol), for a checkpoint's metadata.</summary>
    public string ToJson() => JsonSerializer.Serialize(_symbols.Select(r => r.ToString()).ToArray());

    /// <summary>Reads a vocabulary written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Not such JSON, an entry that is not exactly one character, or a repeat.</exception>
    public static CharacterVocabulary FromJson(string json)
    {
        string[]? entries;
        try
        {
            entries = JsonSerializer.Deserialize<string[]>(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The vocabulary is not a JSON array of strings: {e.Message}");
        }

        if (entries is null || entries.Length == 0)
        {
            throw new InvalidDataException("The vocabulary is empty.");
        }

        var symbols = new Rune[entries.Length];
        for (int i = 0; i < entries.Length; i++)
        {
            if (entries[i] is null || Rune.DecodeFromUtf16(entries[i], out Rune r, out int used) != System.Buffers.OperationStatus.Done || used != entries[i].Length)
            {
                throw new InvalidDataException($"Vocabulary entry {i} is not exactly one character.");
            }

            symbols[i] = r;
        }

        return new CharacterVocabulary(symbols);
    }

    /// <summary>Whether every symbol of <paramref name="text"/> is in the vocabulary.</summary>
    public bool Contains(string text)
    {
        foreach (Rune r in text.EnumerateRunes())
        {
            if (!_ids.ContainsKey(r))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The id of every symbol of <paramref name="text"/>.</summary>
    /// <exception cref="ArgumentException">The text holds a symbol outside the vocabulary (named, with its position).</exception>
    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length);
        foreach (Rune r in text.EnumerateRunes())
        {
            if (!_ids.TryGetValue(r, out int id))
            {
                throw new ArgumentException($"'{r}' (U+{r.Value:X4}) at symbol {ids.Count} is not in the model's vocabulary of {Count} characters.");
            }

            ids.Add(id);
        }

        return [.. ids];
    }

    /// <summary>Appends the symbol of <paramref name="id"/> to <paramref name="builder"/>.</summary>
    public void Append(StringBuilder builder, int id) => builder.Append(_symbols[id].ToString());

    /// <summary>The text of a sequence of ids.</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var builder = new StringBuilder(ids.Length);
        foreach (int id in ids)
        {
            Append(builder, id);
        }

        return builder.ToString();
    }
}
