// A planted violation: purity_check must refuse this tree.
long now() { return std::chrono::steady_clock::now().time_since_epoch().count(); }
