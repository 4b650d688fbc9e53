"""Browser services without DOM: model files, encoder, storage, tokenizer, classifier,
federation client."""
