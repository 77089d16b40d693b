// A planted violation: purity_check must refuse this tree.
#include <thread>
