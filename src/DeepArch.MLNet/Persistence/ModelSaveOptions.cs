
namespace DeepArch.MLNet;

/// <summary>How <see cref="DeepArchModel.Save(Microsoft.ML.MLContext, Microsoft.ML.ITransformer, Microsoft.ML.DataViewSchema, Stream, ModelSaveOptions?)"/> writes a model.</summary>
public sealed class ModelSaveOptions
{
    /// <summary>
    /// A secret key to sign the model with (HMAC-SHA256 over every entry of the file), or null (default) for an unkeyed
    /// manifest that catches damage and swapped parts but not deliberate tampering. A model signed with a key loads only
    /// where <see cref="ModelLoadOptions.SigningKey"/> holds the same key. At least <see cref="ModelLoadOptions.MinSigningKeyBytes"/> bytes.
    /// </summary>
    public byte[]? SigningKey { get; set; }

    internal void Validate()
    {
        if (SigningKey is not null && SigningKey.Length < ModelLoadOptions.MinSigningKeyBytes)
        {
            throw new ArgumentOutOfRangeException($"Options.{nameof(SigningKey)}", SigningKey.Length,
                $"Options.{nameof(SigningKey)} must hold at least {ModelLoadOptions.MinSigningKeyBytes} bytes; got {SigningKey.Length}.");
        }
    }
}
