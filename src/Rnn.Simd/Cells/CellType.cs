namespace Rnn.Simd.Cells;

/// <summary>The recurrent cell of a network.</summary>
public enum CellType
{
    /// <summary>Elman's simple recurrent network: h_t = f(W_in x_t + W_rec h_{t−1} + b).</summary>
    Rnn,

    /// <summary>Long short-term memory with the four gates in one fused matrix (gate rows i, f, o, g).</summary>
    Lstm,

    /// <summary>Gated recurrent unit (gate rows r, z, n); see <see cref="GruVariant"/>.</summary>
    Gru,
}

/// <summary>Where a GRU applies its reset gate: the two published variants, chosen explicitly.</summary>
public enum GruVariant
{
    /// <summary>n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)): PyTorch, ONNX linear_before_reset=1, Keras reset_after=True.</summary>
    ResetAfter,

    /// <summary>n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn): the ONNX default (linear_before_reset=0) and Cho et al. (2014).</summary>
    ResetBefore,
}
