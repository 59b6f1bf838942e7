using Rnn.Simd.Cli.Data;

namespace Rnn.Simd.Tests.Cli;

/// <summary>The command line's data readers: character vocabularies, contiguous streams, CSV columns.</summary>
public sealed class TrainingDataTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("rnn-simd-data-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Vocabulary_IsTheOrdinalOrderOfTheDistinctScalarValues_AndRoundTrips()
    {
        const string Text = "héllo wörld 𝄞 hé";   // 𝄞 is outside the BMP: one symbol, two UTF-16 units
        CharacterVocabulary vocabulary = CharacterVocabulary.FromText(Text);
        Assert.Equal(" dhlorwé𝄞ö".EnumerateRunes().Distinct().Count(), vocabulary.Count);
        int[] ids = vocabulary.Encode(Text);
        Assert.Equal(Text.EnumerateRunes().Count(), ids.Length);
        Assert.Equal(0, ids[5]);                            // ' ' sorts first
        Assert.Equal(Text, vocabulary.Decode(ids));

        CharacterVocabulary restored = CharacterVocabulary.FromJson(vocabulary.ToJson());
        Assert.Equal(ids, restored.Encode(Text));
        ArgumentException e = Assert.Throws<ArgumentException>(() => vocabulary.Encode("hélx"));
        Assert.Contains("'x' (U+0078) at symbol 3", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("{\"a\":1}")]
    [InlineData("[\"ab\"]")]
    [InlineData("[\"a\",\"a\"]")]
    public void Vocabulary_FromBadJson_IsInvalidData(string json) =>
        Assert.Throws<InvalidDataException>(() => CharacterVocabulary.FromJson(json));

    [Fact]
    public void Streams_CutTheSequenceIntoContiguousStreams_AndWrapAtTheEpochEnd()
    {
        int[] data = Enumerable.Range(0, 23).ToArray();    // L = 22 / 2 = 11 per stream
        var streams = new ContiguousStreams(data.Length, batch: 2, steps: 4);
        Assert.Equal(11, streams.StreamLength);
        Assert.Equal(2, streams.ChunksPerEpoch);
        int[] x = new int[8], y = new int[8];

        Assert.Equal(0, streams.Next(out bool first));
        Assert.True(first);
        streams.Fill<int>(data, 0, x, y);
        Assert.Equal([0, 11, 1, 12, 2, 13, 3, 14], x);     // [T, B]: stream 1 starts at 11
        Assert.Equal([1, 12, 2, 13, 3, 14, 4, 15], y);

        Assert.Equal(4, streams.Next(out bool second));
        Assert.False(second);
        Assert.Equal(0, streams.Next(out bool wrapped));  // 8 + 4 > 11: a new epoch
        Assert.True(wrapped);
        Assert.Throws<ArgumentException>(() => new ContiguousStreams(8, batch: 2, steps: 4));
    }

    [Fact]
    public void Csv_ReadsAColumnByNameOrIndex_WithQuotesAndAHeader()
    {
        string path = Write("series.csv", "time,\"value, in €\",note\n0,1.5,a\n\n1,-2e1,\"b, \"\"c\"\"\"\n2,3,c\n");
        Assert.Equal([1.5f, -20f, 3f], CsvColumn.Read(path, "value, in €"));
        Assert.Equal([1.5f, -20f, 3f], CsvColumn.Read(path, "1"));
        Assert.Equal([0f, 1f, 2f], CsvColumn.Read(path, "0"));
        Assert.Equal([4f, 5f], CsvColumn.Read(Write("plain.csv", "4\n5\n"), "0"));
    }

    [Theory]
    [InlineData("a,b\n1,2\n", "c", "no column 'c'")]
    [InlineData("a,b\n1,2\n3\n", "b", "line 3")]
    [InlineData("a,b\n1,2\n3,x\n", "b", "'x' is not a finite number")]
    [InlineData("a,b\n1,2\n3,NaN\n", "b", "'NaN'")]
    [InlineData("a,b\n1,\"2\n", "b", "unterminated")]
    [InlineData("a,b\n1,2\n", "b", "at least two")]
    public void Csv_BadFiles_AreOneLineErrorsNamingTheProblem(string text, string column, string expected)
    {
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => CsvColumn.Read(Write("bad.csv", text), column));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }
}
