// libtilejit has no code of its own: it bundles every component library (see CMakeLists.txt).
