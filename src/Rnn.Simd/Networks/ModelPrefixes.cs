namespace Rnn.Simd.Networks;

/// <summary>
/// The names under which a model's parts keep their tensors in its <see cref="Parameters.ParameterSet"/>: the one
/// table every model uses (PyTorch's module names, so a state dict maps one to one).
/// </summary>
/// <param name="Embedding">The token embedding's prefix (<c>embedding.weight</c>).</param>
/// <param name="Recurrent">The recurrent stack's prefix (<c>rnn.weight_ih_l0</c>, …).</param>
/// <param name="Head">The dense head's prefix (<c>head.weight</c>, <c>head.bias</c>).</param>
public sealed record ModelPrefixes(string Embedding, string Recurrent, string Head)
{
    /// <summary><c>embedding.</c>, <c>rnn.</c>, <c>head.</c>: the classifier, tagger, language model and forecaster.</summary>
    public static ModelPrefixes Default { get; } = new("embedding.", "rnn.", "head.");

    /// <summary>The encoder-decoder's decoder: <c>target_embedding.</c>, <c>decoder.</c>, <c>head.</c>.</summary>
    public static ModelPrefixes Decoder { get; } = new("target_embedding.", "decoder.", "head.");

    /// <summary>The encoder-decoder's encoder: <c>source_embedding.</c> and <c>encoder.</c> (it has no head).</summary>
    public static ModelPrefixes Encoder { get; } = new("source_embedding.", "encoder.", "");
}
