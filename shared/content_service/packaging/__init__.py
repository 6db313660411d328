"""Import sandbox, standard detection and PlayPackage building from zips."""
