using System.Globalization;

namespace Rnn.Simd.StreamingProtocol;

/// <summary>Reads <c>--name value</c> command lines (the service's and the load generator's), naming the option in every error.</summary>
/// <param name="args">The command line's words.</param>
public sealed class OptionReader(IReadOnlyList<string> args)
{
    private int _next;

    /// <summary>The option being read.</summary>
    public string Name { get; private set; } = "";

    /// <summary>Moves to the next option; false at the end.</summary>
    public bool MoveNext()
    {
        if (_next >= args.Count)
        {
            return false;
        }

        Name = args[_next++];
        return true;
    }

    /// <summary>The option's value (the next word).</summary>
    /// <exception cref="ArgumentException">There is none.</exception>
    public string Value() => _next < args.Count ? args[_next++] : throw new ArgumentException($"{Name} needs a value.");

    /// <summary>The option's value, one of two words: true for <paramref name="yes"/>, false for <paramref name="no"/>.</summary>
    /// <exception cref="ArgumentException">Missing, or neither word.</exception>
    public bool Either(string yes, string no)
    {
        string text = Value();
        if (text == yes)
        {
            return true;
        }

        if (text == no)
        {
            return false;
        }

        throw new ArgumentException($"{Name} must be {yes} or {no}, was '{text}'.");
    }

    /// <summary>The option's value as a number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <exception cref="ArgumentException">Missing, not a number, or out of range.</exception>
    public double Number(double min, double max)
    {
        string text = Value();
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= min && v <= max
            ? v : throw new ArgumentException($"{Name} must be a number from {min} to {max}, was '{text}'.");
    }

    /// <summary>The option's value as an integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <exception cref="ArgumentException">Missing, not an integer, or out of range.</exception>
    public int Integer(int min, int max)
    {
        string text = Value();
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
            ? v : throw new ArgumentException($"{Name} must be an integer from {min} to {max}, was '{text}'.");
    }
}
