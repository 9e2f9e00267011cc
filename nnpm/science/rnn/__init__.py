"""RNN decomposition (science.md section 2): vanilla, LSTM and GRU networks on a shared embedding
package, cut into one module per class (tagging, classification) or per target language (translation)."""
